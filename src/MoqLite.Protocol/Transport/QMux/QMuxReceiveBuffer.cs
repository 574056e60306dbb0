using System.IO.Pipelines;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Sources;
using MoqLite.Coding;

namespace MoqLite.Transport.QMux;

/// <summary>
/// A stream's received bytes, read through the <see cref="PipeReader"/> API from one pooled, contiguous array. A
/// group stream is short-lived and usually arrives in one piece: a Pipe would cost its own object graph and a segment
/// per 4 KiB, where this costs one rented array, and a frame is always a single span. Consumption is reported to the
/// stream, which grants the peer credit; credit is also what bounds the unread bytes. Bytes come only from the
/// receive loop; one reader reads them.
/// </summary>
internal sealed class QMuxReceiveBuffer : PipeReader, IValueTaskSource<ReadResult>
{
    private const int MinimumSize = 512;

    private readonly object _gate = new();
    private readonly QMuxStream _stream;
    private WaiterCore<ReadResult> _core;
    private byte[]? _buffer;
    private int _start;
    private int _end;
    // The array a read handed out and the reader may still be looking at, after the bytes moved to a larger one.
    private byte[]? _stale;
    private int _staleStart;
    private bool _reading;
    private int _viewLength;
    private bool _examinedAll;
    private bool _cancelRequested;
    private bool _writerDone;
    private Exception? _error;
    private bool _readerDone;

    /// <param name="stream">Told what each <see cref="AdvanceTo(SequencePosition, SequencePosition)"/> consumed, and when the reader stops.</param>
    /// <param name="inline">Resume a waiting reader on the receive loop rather than on the thread pool.</param>
    public QMuxReceiveBuffer(QMuxStream stream, bool inline)
    {
        _stream = stream;
        _core.RunContinuationsAsynchronously = !inline;
    }

    /// <summary>Starts over for the stream's next use, once its reader is gone and nothing more can arrive for its last one.</summary>
    public void Reopen()
    {
        byte[]? stale, buffer;
        lock (_gate)
        {
            (stale, buffer) = (_stale, _buffer);
            (_stale, _buffer) = (null, null);
            _start = _end = _viewLength = 0;
            _reading = _examinedAll = _cancelRequested = _writerDone = _readerDone = false;
            _error = null;
        }
        ReturnAll(stale, buffer);
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        short version;
        lock (_gate)
        {
            ThrowIfReadingLocked();
            if (TryTakeLocked(out var result))
            {
                return new ValueTask<ReadResult>(result);
            }
            cancellationToken.ThrowIfCancellationRequested();
            version = _core.BeginLocked();
        }
        _core.Register(static (state, token) => ((QMuxReceiveBuffer)state!).Cancel(token), this, cancellationToken);
        return new ValueTask<ReadResult>(this, version);
    }

    public override bool TryRead(out ReadResult result)
    {
        lock (_gate)
        {
            ThrowIfReadingLocked();
            return TryTakeLocked(out result);
        }
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        int used;
        byte[]? release;
        lock (_gate)
        {
            if (!_reading)
            {
                throw new InvalidOperationException("AdvanceTo without a pending read.");
            }
            _reading = false;
            int seen;
            if (_viewLength == 0)
            {
                used = seen = 0;
            }
            else
            {
                // While a read is out, its bytes start at _start in the current array, or where they were in the stale one.
                (used, seen) = BufferView.Measure(_stale ?? _buffer!, _stale is null ? _start : _staleStart, _viewLength, consumed, examined);
            }
            // Examining everything means "wake me for more", unless more has arrived meanwhile.
            _examinedAll = seen == _viewLength && _end - _start == _viewLength;
            _start += used;
            if (_start == _end)
            {
                _start = _end = 0;
            }
            release = _stale;
            _stale = null;
            if (_writerDone && (_start == _end || _error is not null))
            {
                release = Return(release, ref _buffer);
            }
        }
        if (release is not null)
        {
            BufferPool.Shared.Return(release);
        }
        if (used > 0)
        {
            _stream.OnConsumed((ulong)used);
        }
    }

    public override void CancelPendingRead()
    {
        ReadResult result;
        lock (_gate)
        {
            if (!_core.IsWaiting)
            {
                _cancelRequested = true;
                return;
            }
            _cancelRequested = true;
            _core.IsWaiting = false;
            TryTakeLocked(out result);
        }
        _core.SetResult(result);
    }

    public override void Complete(Exception? exception = null)
    {
        byte[]? stale, buffer;
        lock (_gate)
        {
            if (_readerDone)
            {
                return;
            }
            _readerDone = true;
            _reading = false;
            (stale, buffer) = (_stale, _buffer);
            (_stale, _buffer) = (null, null);
            _start = _end = 0;
        }
        ReturnAll(stale, buffer);
        _stream.StopSending((ulong)MoqErrorCode.Cancel);
    }

    /// <summary>
    /// Bytes from the peer, and with <paramref name="fin"/> the end of the stream, which a waiting reader sees in the
    /// same read. Dropped once either side is done.
    /// </summary>
    public void Append(ReadOnlySpan<byte> data, bool fin)
    {
        byte[]? release = null;
        bool wake;
        ReadResult result = default;
        lock (_gate)
        {
            if (_writerDone || _readerDone)
            {
                return;
            }
            if (!data.IsEmpty)
            {
                release = EnsureRoomLocked(data.Length);
                data.CopyTo(_buffer.AsSpan(_end));
                _end += data.Length;
                _examinedAll = false;
            }
            _writerDone = fin;
            wake = _core.IsWaiting && TryTakeLocked(out result);
            _core.IsWaiting &= !wake;
        }
        if (release is not null)
        {
            BufferPool.Shared.Return(release);
        }
        if (wake)
        {
            _core.SetResult(result);
        }
    }

    /// <summary>Ends the stream early: every read from now on fails with <paramref name="error"/>.</summary>
    public void Fail(Exception error)
    {
        byte[]? stale = null, buffer = null;
        bool wake;
        lock (_gate)
        {
            if (_writerDone)
            {
                return;
            }
            _writerDone = true;
            _error = error;
            // An error hides the unread bytes, as a Pipe's does; a read still out gives its array back when it advances.
            if (!_reading)
            {
                (stale, buffer) = (_stale, _buffer);
                (_stale, _buffer) = (null, null);
                _start = _end = 0;
            }
            wake = _core.IsWaiting;
            _core.IsWaiting = false;
        }
        ReturnAll(stale, buffer);
        if (wake)
        {
            _core.SetException(error);
        }
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void ThrowIfReadingLocked()
    {
        if (_readerDone)
        {
            throw new InvalidOperationException("Reading after the reader completed.");
        }
        if (_reading)
        {
            throw new InvalidOperationException("Read again before AdvanceTo.");
        }
    }

    /// <summary>A result when there is something new to see: unread bytes not yet examined, the end, or a cancel.</summary>
    private bool TryTakeLocked(out ReadResult result)
    {
        var unread = _end - _start;
        var canceled = _cancelRequested;
        if (!canceled && !_writerDone && (unread == 0 || _examinedAll))
        {
            result = default;
            return false;
        }
        if (_error is not null && !canceled)
        {
            ExceptionDispatchInfo.Throw(_error);
        }
        _cancelRequested = false;
        _reading = true;
        _viewLength = unread;
        var sequence = BufferView.Of(_buffer, _start, unread);
        result = new ReadResult(sequence, canceled, _writerDone && !canceled);
        return true;
    }

    /// <summary>Makes room for <paramref name="length"/> more bytes; returns an array the caller gives back to the pool.</summary>
    private byte[]? EnsureRoomLocked(int length)
    {
        if (_buffer is null)
        {
            _buffer = BufferPool.Shared.Rent(Math.Max(length, MinimumSize));
            _start = _end = 0;
            return null;
        }
        if (_buffer.Length - _end >= length)
        {
            return null;
        }
        var unread = _end - _start;
        if (!_reading && _buffer.Length - unread >= length)
        {
            // Slide the unread bytes to the front: no reader is looking at them.
            _buffer.AsSpan(_start, unread).CopyTo(_buffer);
            (_start, _end) = (0, unread);
            return null;
        }
        var larger = BufferPool.Shared.Rent(Math.Max(unread + length, 2 * _buffer.Length));
        _buffer.AsSpan(_start, unread).CopyTo(larger);
        byte[]? release = null;
        if (_reading && _stale is null)
        {
            // The reader's view points into the old array: keep it alive until the reader advances.
            (_stale, _staleStart) = (_buffer, _start);
        }
        else
        {
            release = _buffer;
        }
        (_buffer, _start, _end) = (larger, 0, unread);
        return release;
    }

    private static byte[]? Return(byte[]? release, ref byte[]? buffer)
    {
        if (buffer is not null)
        {
            if (release is not null)
            {
                BufferPool.Shared.Return(release);
            }
            release = buffer;
            buffer = null;
        }
        return release;
    }

    private static void ReturnAll(byte[]? stale, byte[]? buffer)
    {
        if (stale is not null)
        {
            BufferPool.Shared.Return(stale);
        }
        if (buffer is not null)
        {
            BufferPool.Shared.Return(buffer);
        }
    }

    private void Cancel(CancellationToken token) => _core.Cancel(_gate, token);
}
