using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using MoqLite.Coding;

namespace MoqLite.Transport.QMux;

/// <summary>
/// One QMux stream. Received bytes land in a buffer the application reads (consumption grants the peer more
/// credit); bytes the application writes wait in a send buffer until the connection's sender schedules them.
/// All state below is guarded by the connection's lock.
/// </summary>
internal sealed class QMuxStream : MoqTransportStream, IValueTaskSource
{
    private readonly QMuxConnection _connection;
    private readonly QMuxReceiveBuffer? _receive;
    private QMuxSendBuffer? _output;
    private long _priority;
    private bool _finReceived;
    private TaskCompletionSource? _sendCompleted;
    // The single waiter of WhenSendCompletedAsync; completed with _sendCompleted (see TakeSendWaitersLocked).
    private WaiterCore<bool> _sentWaiter;

    public QMuxStream(QMuxConnection connection, long id, bool unidirectional, bool isLocal)
    {
        _connection = connection;
        _id = id;
        IsUnidirectional = unidirectional;
        IsLocal = isLocal;
        if (!(unidirectional && isLocal))
        {
            // A peer's group stream is read on the receive loop as its bytes arrive (no hop per message); streams that
            // carry requests keep the thread pool, since serving them may call application code.
            _receive = new QMuxReceiveBuffer(this, inline: unidirectional);
            ReceiveMax = connection.StreamReceiveWindow;
        }
        else
        {
            ReceiveDone = true;
        }
        if (!(unidirectional && !isLocal))
        {
            _output = connection.RentSendBuffer(this);
            SendMax = connection.InitialSendWindow(this);
        }
        else
        {
            SendDone = true;
        }
    }

    private long _id;

    // A unidirectional stream (a group: a relay's delivery, or one a subscriber receives) is reused once the session
    // released it and both directions are over; these two say which has happened. Guarded by the connection's lock.
    private bool _released;
    private bool _retired;

    public override long Id => _id;

    /// <summary>Reuses a retired and released unidirectional stream as stream <paramref name="id"/> (under the connection's lock).</summary>
    public void ReopenLocked(long id)
    {
        _id = id;
        _priority = 0;
        _released = _retired = false;
        if (IsLocal)
        {
            _sendCompleted = null;
            InReady = false;
            SendOffset = 0;
            SendDone = false;
            SendMax = _connection.InitialSendWindow(this);
            _output = _connection.RentSendBuffer(this);
        }
        else
        {
            _finReceived = false;
            ReceivedBytes = ConsumedBytes = 0;
            ReceiveMax = _connection.StreamReceiveWindow;
            ReceiveDone = false;
            _receive!.Reopen();
        }
    }

    /// <summary>The connection forgot this stream (under its lock); true if the session released it too, so it can be reused.</summary>
    public bool RetireLocked()
    {
        _retired = true;
        return _released;
    }

    internal override void Release()
    {
        lock (_connection.Gate)
        {
            _released = true;
            if (_retired)
            {
                _connection.RecycleStreamLocked(this);
            }
        }
    }

    public override bool IsUnidirectional { get; }

    public override bool IsLocal { get; }

    public override PipeReader? Input => _receive;

    public override PipeWriter? Output => _output;

    public override long SendPriority
    {
        get => Volatile.Read(ref _priority);
        set => Volatile.Write(ref _priority, value);
    }

    /// <inheritdoc/>
    public override Task SendCompleted
    {
        get
        {
            lock (_connection.Gate)
            {
                // Completed outside the connection's lock (see TakeSendWaitersLocked), so awaiting inline is safe.
                return SendDone ? Task.CompletedTask : (_sendCompleted ??= new TaskCompletionSource()).Task;
            }
        }
    }

    /// <inheritdoc/>
    internal override ValueTask WhenSendCompletedAsync()
    {
        lock (_connection.Gate)
        {
            if (SendDone)
            {
                return default;
            }
            if (_sentWaiter.IsWaiting)
            {
                throw new InvalidOperationException($"Stream {Id} already has a waiter for its send to complete.");
            }
            return new ValueTask(this, _sentWaiter.BeginLocked());
        }
    }

    void IValueTaskSource.GetResult(short token) => _sentWaiter.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _sentWaiter.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _sentWaiter.OnCompleted(continuation, state, token, flags);

    public ulong ReceivedBytes { get; set; }

    public ulong ConsumedBytes { get; set; }

    public ulong ReceiveMax { get; set; }

    public bool ReceiveDone { get; private set; }

    public ulong SendMax { get; set; }

    public ulong SendOffset { get; private set; }

    public bool SendDone { get; private set; }

    public bool InReady { get; set; }

    public long ReadySequence { get; set; }

    public override void Reset(ulong code) => AbandonSend(code, byPeer: false);

    public override void StopSending(ulong code)
    {
        ulong unread;
        lock (_connection.Gate)
        {
            if (ReceiveDone)
            {
                return;
            }
            ReceiveDone = true;
            unread = ReceivedBytes - ConsumedBytes;
            ConsumedBytes = ReceivedBytes;
        }
        _receive!.Fail(new MoqStreamAbortedException(code, $"stream {Id} was stopped locally"));
        if (!_finReceived)
        {
            _connection.QueueControl(QMuxFrameType.StopSending, (ulong)Id, code);
        }
        _connection.OnConsumed(null, unread);
        RetireIfDone();
    }

    /// <summary>Bytes from the peer (called only by the receive loop).</summary>
    public void Deliver(ReadOnlySpan<byte> data, bool fin)
    {
        bool discard;
        lock (_connection.Gate)
        {
            discard = ReceiveDone || _finReceived;
            _finReceived |= fin;
        }
        if (discard)
        {
            _connection.OnConsumed(null, (ulong)data.Length);
            return;
        }
        _receive!.Append(data, fin);
        if (fin)
        {
            OnConsumed(0);
        }
    }

    public void PeerReset(ulong code)
    {
        lock (_connection.Gate)
        {
            if (ReceiveDone)
            {
                return;
            }
            ReceiveDone = true;
        }
        _receive?.Fail(new MoqStreamAbortedException(code, $"stream {Id} was reset by the peer with code {code}"));
        RetireIfDone();
    }

    // QUIC: answer STOP_SENDING with RESET_STREAM.
    public void PeerStopSending(ulong code) => AbandonSend(code, byPeer: true);

    /// <summary>Ends the send direction with RESET_STREAM; the application's next flush fails with the reason.</summary>
    private void AbandonSend(ulong code, bool byPeer)
    {
        SendWaiters sent;
        lock (_connection.Gate)
        {
            if (SendDone)
            {
                return;
            }
            _connection.RemoveReadyLocked(this);
            // Only now the reason is worth a string: resetting a stream that already ended is common and free.
            var reason = byPeer ? $"stream {Id} was stopped by the peer with code {code}" : $"stream {Id} was reset locally";
            sent = EndSendLocked(new MoqStreamAbortedException(code, reason));
        }
        sent.Complete();
        _connection.QueueControl(QMuxFrameType.ResetStream, (ulong)Id, code, SendOffset);
        RetireIfDone();
    }

    public void Fail(Exception error)
    {
        _receive?.Fail(error);
        SendWaiters sent;
        lock (_connection.Gate)
        {
            sent = EndSendLocked(error);
        }
        sent.Complete();
    }

    /// <summary>
    /// Ends the send direction without FIN: drops what is queued and fails a pending flush with <paramref name="reason"/>.
    /// Returns who waits for the send to be over, to be completed once the lock is released.
    /// </summary>
    private SendWaiters EndSendLocked(Exception reason)
    {
        SendDone = true;
        _output?.AbandonLocked(reason);
        return TakeSendWaitersLocked();
    }

    /// <summary>
    /// Hands over whoever waits for the send direction to be over, once it is (under the connection's lock). They are
    /// completed after the lock is released, because continuations run inline; the stream cannot be reused before,
    /// since the session releases it only after its wait completed.
    /// </summary>
    private SendWaiters TakeSendWaitersLocked()
    {
        var waiters = new SendWaiters(this, _sendCompleted, _sentWaiter.IsWaiting);
        _sendCompleted = null;
        _sentWaiter.IsWaiting = false;
        return waiters;
    }

    /// <summary>Who waited for a stream's send direction to be over: the task handed out, and the single waiter.</summary>
    internal readonly record struct SendWaiters(QMuxStream Stream, TaskCompletionSource? Task, bool Waiting)
    {
        public bool Any => Task is not null || Waiting;

        /// <summary>Completes them, outside the connection's lock.</summary>
        public void Complete()
        {
            Task?.TrySetResult();
            if (Waiting)
            {
                Stream._sentWaiter.SetResult(true);
            }
        }
    }

    /// <summary>Writes at most one STREAM frame into <paramref name="destination"/>; returns its size.</summary>
    public int WriteFrameLocked(Span<byte> destination, ref ulong connectionSent, ulong connectionMax)
    {
        var output = _output!;
        if (SendDone)
        {
            InReady = false;
            return 0;
        }
        var available = output.QueuedLocked;
        var credit = (long)Math.Min(SendMax - SendOffset, connectionMax - connectionSent);
        var header = 1 + VarInt.Size((ulong)Id) + VarInt.Size(SendOffset) + (destination.Length <= 16383 ? 2 : 4);
        var room = destination.Length - header;
        if (room <= 0)
        {
            return 0;
        }
        var length = (int)Math.Min(Math.Min(available, credit), room);
        var fin = output.CompletedLocked && length == available;
        if (length == 0 && !fin)
        {
            // Nothing to send (the next flush wakes us), or blocked on credit (MAX_STREAM_DATA / MAX_DATA wakes us).
            InReady = false;
            return 0;
        }
        var written = QMuxConnection.WriteStreamHeader(destination, Id, SendOffset, length, fin);
        output.TakeLocked(destination.Slice(written, length));
        SendOffset += (ulong)length;
        connectionSent += (ulong)length;
        if (fin)
        {
            output.ReleaseLocked();
            // The application completed the writer, so it no longer uses it: another stream may.
            _output = null;
            _connection.RecycleSendBufferLocked(output);
            SendDone = true;
            if (TakeSendWaitersLocked() is { Any: true } waiters)
            {
                _connection.FinishedLocked(waiters);
            }
            InReady = false;
            RetireIfDone();
        }
        else if (length == available)
        {
            InReady = false;
        }
        return written + length;
    }

    /// <summary>Bytes queued to send.</summary>
    public long QueuedLocked => _output?.QueuedLocked ?? 0;

    /// <summary>
    /// True when this stream is better left for the next message than split at the end of this one: it has not
    /// started, all of it is queued, and it would go whole into a message of <paramref name="budget"/> bytes but
    /// not into the <paramref name="room"/> left. Sent whole, its receiver takes it in one piece.
    /// </summary>
    public bool BetterWholeLocked(int room, int budget)
    {
        if (SendOffset != 0 || _output is not { CompletedLocked: true } output)
        {
            return false;
        }
        // The STREAM frame header takes at most 14 bytes: type, an 8-byte id, offset 0, a 4-byte length.
        var whole = output.QueuedLocked + 14;
        return whole > room && whole <= budget;
    }

    /// <summary>New bytes or the end were queued: let the connection's sender know.</summary>
    public void Wake() => _connection.Wake(this);

    /// <inheritdoc/>
    public override void WriteRetained(ReadOnlyMemory<byte> data)
    {
        if (_output is null)
        {
            throw new InvalidOperationException($"Stream {Id} has no send direction, or its output was completed.");
        }
        _output.WriteRetained(data);
    }

    /// <summary>The application consumed <paramref name="bytes"/>: grant credit, and retire the stream once all is read.</summary>
    public void OnConsumed(ulong bytes)
    {
        if (bytes > 0)
        {
            _connection.OnConsumed(this, bytes);
        }
        lock (_connection.Gate)
        {
            if (_finReceived && !ReceiveDone && ConsumedBytes == ReceivedBytes)
            {
                ReceiveDone = true;
            }
        }
        RetireIfDone();
    }

    private void RetireIfDone()
    {
        bool done;
        lock (_connection.Gate)
        {
            done = ReceiveDone && SendDone;
        }
        if (done)
        {
            _connection.Retire(this);
        }
    }
}
