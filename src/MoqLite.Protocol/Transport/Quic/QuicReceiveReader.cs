using System.IO.Pipelines;
using System.Net.Quic;
using System.Runtime.Versioning;
using MoqLite.Coding;

namespace MoqLite.Transport.Quic;

/// <summary>
/// Reads a QUIC stream into one pooled, contiguous buffer, read through the <see cref="PipeReader"/> API: a group
/// stream then costs one rented array and its frames are single spans, where the generic stream reader cost a
/// segment list, 4 KiB blocks and a cancellation source each. QUIC aborts surface as the transport abstraction's
/// exceptions, and the stream hears when reading is over (the end read, a failure, or the reader completed).
/// <see cref="CancelPendingRead"/> takes effect when the read in progress next returns (data or the
/// end); nothing in the session cancels reads that way.
/// </summary>
[SupportedOSPlatform("linux")]
[SupportedOSPlatform("windows")]
[SupportedOSPlatform("osx")]
internal sealed class QuicReceiveReader(QuicStream stream, Action readingDone) : PipeReader
{
    private const int MinimumSize = 4096;
    private byte[]? _buffer;
    private int _start;
    private int _end;
    private bool _reading;
    private int _viewLength;
    private bool _examinedAll;
    private bool _ended;
    private bool _cancelRequested;
    private bool _completed;

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfReading();
        ReadResult result;
        while (!TryTake(out result))
        {
            MakeRoom();
            int read;
            try
            {
                read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            }
            catch (QuicException ex) when (QuicMoqStream.Map(ex) is { } mapped)
            {
                readingDone();
                throw mapped;
            }
            _ended = read == 0;
            if (_ended)
            {
                readingDone();
            }
            _end += read;
            _examinedAll = false;
        }
        return result;
    }

    public override bool TryRead(out ReadResult result)
    {
        ThrowIfReading();
        return TryTake(out result);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (!_reading)
        {
            throw new InvalidOperationException("AdvanceTo without a pending read.");
        }
        _reading = false;
        if (_viewLength == 0)
        {
            return;
        }
        var (used, seen) = BufferView.Measure(_buffer!, _start, _viewLength, consumed, examined);
        _examinedAll = seen == _viewLength;
        _start += used;
        if (_start == _end)
        {
            _start = _end = 0;
            if (_ended)
            {
                Return();
            }
        }
    }

    public override void CancelPendingRead() => _cancelRequested = true;

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }
        _completed = true;
        _reading = false;
        Return();
        readingDone();
    }

    /// <summary>A result when there is something new to see: unread bytes not yet examined, the end, or a cancel.</summary>
    private bool TryTake(out ReadResult result)
    {
        var unread = _end - _start;
        var canceled = _cancelRequested;
        if (!canceled && !_ended && (unread == 0 || _examinedAll))
        {
            result = default;
            return false;
        }
        _cancelRequested = false;
        _reading = true;
        _viewLength = unread;
        result = new ReadResult(BufferView.Of(_buffer, _start, unread), canceled, _ended && !canceled);
        return true;
    }

    /// <summary>Space after the unread bytes for the next read: slides them to the front, or moves to a larger array.</summary>
    private void MakeRoom()
    {
        if (_buffer is null)
        {
            _buffer = BufferPool.Shared.Rent(MinimumSize);
            return;
        }
        if (_buffer.Length - _end >= MinimumSize / 2)
        {
            return;
        }
        var unread = _end - _start;
        var target = unread <= _buffer.Length / 2 ? _buffer : BufferPool.Shared.Rent(2 * _buffer.Length);
        _buffer.AsSpan(_start, unread).CopyTo(target);
        if (!ReferenceEquals(target, _buffer))
        {
            BufferPool.Shared.Return(_buffer);
            _buffer = target;
        }
        (_start, _end) = (0, unread);
    }

    private void ThrowIfReading()
    {
        if (_completed)
        {
            throw new InvalidOperationException("Reading after the reader completed.");
        }
        if (_reading)
        {
            throw new InvalidOperationException("Read again before AdvanceTo.");
        }
    }

    private void Return()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            _start = _end = 0;
            BufferPool.Shared.Return(buffer);
        }
    }
}
