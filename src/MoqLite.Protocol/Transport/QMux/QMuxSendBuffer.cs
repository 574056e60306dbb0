using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Tasks.Sources;
using MoqLite.Coding;

namespace MoqLite.Transport.QMux;

/// <summary>
/// The send half of a QMux stream: bytes the application wrote, queued until the connection's sender copies them
/// into a WebSocket message. Written bytes go into small pooled blocks; <see cref="WriteRetained"/> queues a
/// reference instead of a copy, so a relayed frame is copied once, straight from the group into the message.
/// Everything but the writer's current block is guarded by the connection's lock. Once the application completed it
/// and its bytes and FIN have left, the connection reuses it for another stream (see <see cref="Attach"/>), as
/// Kestrel reuses a request's pipes: a relay opens a stream per group per subscriber.
/// </summary>
internal sealed class QMuxSendBuffer : PipeWriter, IValueTaskSource<FlushResult>
{
    private const int BlockSize = 512;
    private const int InlineSize = 64;
    private QMuxStream _stream;
    private readonly object _gate;
    private readonly long _pauseThreshold;

    // The writer's block: [_blockStart, _blockEnd) is written but not yet queued. Touched only by the writer.
    private byte[]? _block;
    private int _blockStart;
    private int _blockEnd;

    // A group stream's headers fit here (type, group header and a few frame headers, about 15 bytes for one frame);
    // the pool is only for more, because a relay has too many streams in flight for the shared pool's per-core caches
    // and every miss would allocate anyway.
    private readonly byte[] _inline = new byte[InlineSize];
    private int _inlineUsed;

    // The queue, oldest first from _head; guarded by _gate. A one-frame group is two pieces: headers, payload.
    private Piece[] _pieces = new Piece[2];
    private int _head;
    private int _count;
    private int _headOffset;
    private long _queued;
    private bool _completed;
    private Exception? _abandoned;
    private WaiterCore<FlushResult> _flush = new() { RunContinuationsAsynchronously = true };

    public QMuxSendBuffer(QMuxStream stream, object gate, long pauseThreshold)
    {
        _stream = stream;
        _gate = gate;
        _pauseThreshold = pauseThreshold;
    }

    /// <summary>Gives a buffer whose last stream sent everything, FIN included, to a new stream (under the connection's lock).</summary>
    public void Attach(QMuxStream stream)
    {
        _stream = stream;
        _completed = false;
        _abandoned = null;
        _inlineUsed = 0;
    }

    /// <summary>Queued bytes not yet sent.</summary>
    public long QueuedLocked => _queued;

    /// <summary>True once the writer completed: after the queued bytes comes FIN.</summary>
    public bool CompletedLocked => _completed;

    public override void Advance(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes > 0 && (_block is null || _blockEnd + bytes > _block.Length))
        {
            throw new InvalidOperationException("Advanced past the memory handed out.");
        }
        _blockEnd += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => EnsureBlock(sizeHint).AsMemory(_blockEnd);

    public override Span<byte> GetSpan(int sizeHint = 0) => EnsureBlock(sizeHint).AsSpan(_blockEnd);

    /// <summary>Queues <paramref name="data"/> by reference; the caller keeps it valid until the stream's send side is done.</summary>
    public void WriteRetained(ReadOnlyMemory<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }
        lock (_gate)
        {
            QueueBlockLocked();
            if (_abandoned is null && !_completed)
            {
                Append(new Piece(data, null));
            }
        }
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        short? pending = null;
        lock (_gate)
        {
            QueueBlockLocked();
            if (_abandoned is { } abandoned)
            {
                return ValueTask.FromException<FlushResult>(abandoned);
            }
            if (_queued >= _pauseThreshold)
            {
                cancellationToken.ThrowIfCancellationRequested();
                pending = _flush.BeginLocked();
                // Registered under the lock, so the flush cannot complete (and be consumed) before it is recorded.
                _flush.Register(static (state, token) => ((QMuxSendBuffer)state!).CancelFlush(token), this, cancellationToken);
            }
        }
        _stream.Wake();
        return pending is { } version ? new ValueTask<FlushResult>(this, version) : new ValueTask<FlushResult>(default(FlushResult));
    }

    private void CancelFlush(CancellationToken token) => _flush.Cancel(_gate, token);

    public override void CancelPendingFlush()
    {
        lock (_gate)
        {
            if (_flush.IsWaiting)
            {
                _flush.IsWaiting = false;
                _flush.SetResult(new FlushResult(isCanceled: true, isCompleted: false));
            }
        }
    }

    public override void Complete(Exception? exception = null)
    {
        if (exception is not null)
        {
            ReturnBlock();
            _stream.Reset(MoqException.ResetCode(exception));
            return;
        }
        QMuxStream stream;
        lock (_gate)
        {
            QueueBlockLocked();
            ReturnBlock();
            if (_abandoned is not null || _completed)
            {
                return;
            }
            _completed = true;
            // From here the sender may send FIN and hand this buffer to another stream: touch only locals.
            stream = _stream;
        }
        stream.Wake();
    }

    /// <summary>Copies the oldest <paramref name="destination"/>.Length queued bytes out and lets go of what was sent.</summary>
    public void TakeLocked(Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            ref var piece = ref _pieces[_head];
            var available = piece.Data.Span[_headOffset..];
            var length = Math.Min(available.Length, destination.Length);
            available[..length].CopyTo(destination);
            destination = destination[length..];
            _headOffset += length;
            _queued -= length;
            if (_headOffset == piece.Data.Length)
            {
                if (piece.Owner is { } owner)
                {
                    ArrayPool<byte>.Shared.Return(owner);
                }
                piece = default;
                _head++;
                _count--;
                _headOffset = 0;
            }
        }
        if (_count == 0)
        {
            _head = 0;
        }
        if (_flush.IsWaiting && _queued <= _pauseThreshold / 2)
        {
            _flush.IsWaiting = false;
            _flush.SetResult(default);
        }
    }

    /// <summary>The send direction is over (reset, or the connection failed): drop the queue and fail a pending flush.</summary>
    public void AbandonLocked(Exception reason)
    {
        _abandoned ??= reason;
        ReleaseLocked();
        if (_flush.IsWaiting)
        {
            _flush.IsWaiting = false;
            _flush.SetException(reason);
        }
    }

    /// <summary>Returns the queue's buffers once everything was sent or abandoned.</summary>
    public void ReleaseLocked()
    {
        for (var i = _head; i < _head + _count; i++)
        {
            if (_pieces[i].Owner is { } owner)
            {
                ArrayPool<byte>.Shared.Return(owner);
            }
        }
        Array.Clear(_pieces);
        _head = _count = _headOffset = 0;
        _queued = 0;
    }

    FlushResult IValueTaskSource<FlushResult>.GetResult(short token) => _flush.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _flush.GetStatus(token);

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _flush.OnCompleted(continuation, state, token, flags);

    private byte[] EnsureBlock(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_block is not null && _block.Length - _blockEnd >= sizeHint)
        {
            return _block;
        }
        if (_block is not null && _blockEnd > _blockStart)
        {
            lock (_gate)
            {
                QueueBlockLocked();
            }
        }
        ReturnBlock();
        if (InlineSize - _inlineUsed >= sizeHint)
        {
            // The rest of the inline buffer: queued pieces keep what is before it.
            _block = _inline;
            _blockStart = _blockEnd = _inlineUsed;
            return _block;
        }
        _block = ArrayPool<byte>.Shared.Rent(Math.Max(sizeHint, BlockSize));
        _blockStart = _blockEnd = 0;
        return _block;
    }

    /// <summary>Queues what the writer wrote since the last time; the queue then owns the block.</summary>
    private void QueueBlockLocked()
    {
        if (_block is null || _blockEnd == _blockStart)
        {
            return;
        }
        if (_abandoned is not null || _completed)
        {
            _blockStart = _blockEnd;
            return;
        }
        if (ReferenceEquals(_block, _inline))
        {
            // Keep writing after it; the inline buffer is never handed back to a pool.
            Append(new Piece(_block.AsMemory(_blockStart, _blockEnd - _blockStart), null));
            _inlineUsed = _blockStart = _blockEnd;
            return;
        }
        Append(new Piece(_block.AsMemory(_blockStart, _blockEnd - _blockStart), _block));
        _block = null;
        _blockStart = _blockEnd = 0;
    }

    private void ReturnBlock()
    {
        if (_block is { } block)
        {
            _block = null;
            _blockStart = _blockEnd = 0;
            if (!ReferenceEquals(block, _inline))
            {
                ArrayPool<byte>.Shared.Return(block);
            }
        }
    }

    private void Append(Piece piece)
    {
        if (_head + _count == _pieces.Length)
        {
            if (_count * 2 > _pieces.Length)
            {
                var larger = new Piece[_pieces.Length * 2];
                _pieces.AsSpan(_head, _count).CopyTo(larger);
                _pieces = larger;
            }
            else
            {
                _pieces.AsSpan(_head, _count).CopyTo(_pieces);
                _pieces.AsSpan(_count).Clear();
            }
            _head = 0;
        }
        _pieces[_head + _count++] = piece;
        _queued += piece.Data.Length;
    }

    /// <summary>Queued bytes, and the pooled block to return once they are sent (none for retained memory).</summary>
    private readonly record struct Piece(ReadOnlyMemory<byte> Data, byte[]? Owner);
}
