using System.Buffers;
using System.Net.WebSockets;
using MoqLite.Coding;

namespace MoqLite.Transport.QMux;

// The send side. Whoever makes data ready sends it on its own thread while the socket is free — the way a plain
// broadcast loop does — instead of waking a dedicated loop: that thread-pool hop per message cost more than the send.
// A send that does not complete at once carries on asynchronously, and later callers only queue behind it.
public sealed partial class QMuxConnection
{
    private const int SendBufferSize = 64 * 1024;
    // Spare streams and send buffers kept per connection: enough for the groups one subscriber has in flight at once.
    private const int MaxSpares = 16;
    private readonly Stack<QMuxSendBuffer> _spareSendBuffers = new();
    private readonly Stack<QMuxStream> _spareStreams = new();
    private readonly Stack<QMuxStream> _sparePeerStreams = new();
    private readonly TaskCompletionSource _sendDrained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _sending;
    private bool _sendStopped;
    // The sender's state between messages (only the thread that set _sending touches it): the buffer messages are
    // built in, and the send it waits for.
    private byte[]? _sendBuffer;
    private ValueTask _sendInFlight;
    private Action? _onSent;

    // Streams whose FIN is in the message being sent and that someone waits on; owned by the sender, completed once
    // the message is out.
    private readonly List<QMuxStream.SendWaiters> _finished = [];

    /// <summary>Sends whatever is ready unless a send is already under way (it will pick this up too).</summary>
    private void Kick()
    {
        lock (_gate)
        {
            if (!TryBeginSendLocked())
            {
                return;
            }
        }
        SendReady();
    }

    /// <summary>Notes a waited-on stream whose FIN is going into the message being built (called by the sender).</summary>
    internal void FinishedLocked(QMuxStream.SendWaiters waiters) => _finished.Add(waiters);

    private void CompleteFinished()
    {
        foreach (var waiters in _finished)
        {
            waiters.Complete();
        }
        _finished.Clear();
    }

    private bool TryBeginSendLocked()
    {
        if (_sending || _sendStopped)
        {
            return false;
        }
        _sending = true;
        return true;
    }

    /// <summary>
    /// Sends messages until nothing is ready; only the caller that set <see cref="_sending"/> runs this. Written as a
    /// loop that parks on a send still under way and resumes from <see cref="OnSent"/>, rather than as an async
    /// method: under back-pressure nearly every message waits, and a relay would pay a task per wait.
    /// </summary>
    private void SendReady()
    {
        try
        {
            while (true)
            {
                int length;
                lock (_gate)
                {
                    // Sized to what is ready, so a relay with many connections mid-send holds little memory.
                    var size = _headroom + MessageSizeLocked();
                    if (_sendBuffer is null || _sendBuffer.Length < size)
                    {
                        ReturnSendBufferLocked();
                        _sendBuffer = BufferPool.Shared.Rent(Math.Max(size, 1024));
                    }
                    length = BuildMessageLocked(_sendBuffer.AsSpan(_headroom));
                    if (length == 0)
                    {
                        // Handed back before another thread may start sending with a buffer of its own.
                        ReturnSendBufferLocked();
                        _sending = false;
                        if (_closed.Task.IsCompleted)
                        {
                            _sendDrained.TrySetResult();
                        }
                        return;
                    }
                }
                // No token: a cancelable send takes ManagedWebSocket's slow path (a state machine and a rented buffer held
                // across the write, per message). Shutdown ends a stuck send by aborting the socket.
                var send = _preframed is { } preframed
                    ? preframed.SendPreframedAsync(_sendBuffer, _headroom, length)
                    : _socket.SendAsync(_sendBuffer.AsMemory(0, length), WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
                if (!send.IsCompleted)
                {
                    _sendInFlight = send;
                    send.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onSent ??= OnSent);
                    return;
                }
                send.GetAwaiter().GetResult();
                MessageSent();
            }
        }
        catch (Exception ex)
        {
            SendFailed(ex);
        }
    }

    /// <summary>The message that was still on its way has gone (or failed): carry on sending.</summary>
    private void OnSent()
    {
        var send = _sendInFlight;
        _sendInFlight = default;
        try
        {
            send.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            SendFailed(ex);
            return;
        }
        MessageSent();
        SendReady();
    }

    /// <summary>A message left: it counts for keep-alive, and the streams that ended in it are sent.</summary>
    private void MessageSent()
    {
        Volatile.Write(ref _lastSent, Environment.TickCount64);
        CompleteFinished();
    }

    /// <summary>
    /// The WebSocket is gone (or, for anything but the expected I/O errors, the sender hit a bug): stop sending and
    /// close, so nobody waits for streams that will never leave. Never thrown onward: it would end the process.
    /// </summary>
    private void SendFailed(Exception ex)
    {
        lock (_gate)
        {
            ReturnSendBufferLocked();
            _sending = false;
            _sendStopped = true;
        }
        _sendDrained.TrySetResult();
        CompleteFinished();
        var reason = ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException
            ? "WebSocket lost: " + ex.Message
            : "sending failed: " + ex.Message;
        Shutdown(new MoqCloseInfo((ulong)MoqErrorCode.Transport, reason, ClosedByPeer: true));
    }

    private void ReturnSendBufferLocked()
    {
        if (_sendBuffer is { } buffer)
        {
            _sendBuffer = null;
            BufferPool.Shared.Return(buffer);
        }
    }

    /// <summary>The largest message what is ready could fill: queued control frames and stream bytes, within the budget.</summary>
    private int MessageSizeLocked()
    {
        long size = 0;
        var largest = 0;
        foreach (var frame in _control)
        {
            size += frame.Length;
            largest = Math.Max(largest, frame.Length);
        }
        if (!_closing)
        {
            foreach (var stream in _ready)
            {
                size += stream.QueuedLocked + 24;
            }
        }
        // A control frame larger than the budget still goes out whole, alone in its message.
        return Math.Max((int)Math.Min(size, MessageBudget), largest);
    }

    private int MessageBudget => Version == QMuxVersion.Draft00
        ? MaxFrameSize00
        : (int)Math.Min(_peer?.MaxRecordSize ?? QMuxTransportParameters.DefaultMaxRecordSize, (ulong)(SendBufferSize - _headroom));

    /// <summary>
    /// Fills one WebSocket message: control frames first, then stream data by priority. qmux-00 carries exactly
    /// one frame per message; 01/02 pack frames up to the peer's max_record_size.
    /// </summary>
    private int BuildMessageLocked(Span<byte> buffer)
    {
        var single = Version == QMuxVersion.Draft00;
        var budget = Math.Min(MessageBudget, buffer.Length);
        var used = 0;
        while (_control.TryPeek(out var frame) && used + frame.Length <= Math.Max(budget, frame.Length))
        {
            if (used > 0 && used + frame.Length > budget)
            {
                break;
            }
            frame.CopyTo(buffer[used..]);
            used += frame.Length;
            _control.Dequeue();
            if (single)
            {
                return used;
            }
        }
        if (_closing)
        {
            return used;
        }
        while (budget - used > 16 && PickReadyLocked() is { } stream)
        {
            if (used > 0 && stream.BetterWholeLocked(budget - used, budget))
            {
                break;
            }
            var written = stream.WriteFrameLocked(buffer[used..budget], ref _sentData, _peerMaxData);
            if (!stream.InReady)
            {
                _ready.Remove(stream);
            }
            else
            {
                stream.ReadySequence = ++_readySequence;
            }
            used += written;
            if (written > 0 && single)
            {
                break;
            }
            if (written == 0 && stream.InReady)
            {
                break;
            }
        }
        return used;
    }

    /// <summary>The ready stream with the highest priority; among equals, the one waiting longest.</summary>
    private QMuxStream? PickReadyLocked()
    {
        QMuxStream? best = null;
        foreach (var stream in _ready)
        {
            if (best is null || stream.SendPriority > best.SendPriority
                || (stream.SendPriority == best.SendPriority && stream.ReadySequence < best.ReadySequence))
            {
                best = stream;
            }
        }
        return best;
    }

    internal void WakeLocked(QMuxStream stream)
    {
        if (!stream.InReady && !stream.SendDone && !_closing)
        {
            stream.InReady = true;
            stream.ReadySequence = ++_readySequence;
            _ready.Add(stream);
        }
    }

    internal void Wake(QMuxStream stream)
    {
        lock (_gate)
        {
            WakeLocked(stream);
            if (!TryBeginSendLocked())
            {
                return;
            }
        }
        SendReady();
    }

    internal void QueueControl(ulong type, ulong a, ulong? b = null, ulong? c = null)
    {
        lock (_gate)
        {
            if (_closing)
            {
                return;
            }
            QueueControlLocked(Frame(type, a, b, c));
        }
        Kick();
    }

    internal object Gate => _gate;

    /// <summary>A send buffer for a new stream: a spare one whose stream finished, or a new one.</summary>
    internal QMuxSendBuffer RentSendBuffer(QMuxStream stream)
    {
        lock (_gate)
        {
            if (_spareSendBuffers.TryPop(out var spare))
            {
                spare.Attach(stream);
                return spare;
            }
        }
        return new QMuxSendBuffer(stream, _gate, _options.StreamSendBuffer);
    }

    /// <summary>A new stream: a spare unidirectional one of the same side reopened as <paramref name="id"/>, or a new object.</summary>
    private QMuxStream CreateStreamLocked(long id, bool unidirectional, bool isLocal)
    {
        if (unidirectional && Spares(isLocal).TryPop(out var spare))
        {
            spare.ReopenLocked(id);
            return spare;
        }
        return new QMuxStream(this, id, unidirectional, isLocal);
    }

    /// <summary>Keeps a unidirectional stream that is over and released for the next one of its kind, up to a few per connection.</summary>
    internal void RecycleStreamLocked(QMuxStream stream)
    {
        var spares = Spares(stream.IsLocal);
        if (stream.IsUnidirectional && spares.Count < MaxSpares && !_closing)
        {
            spares.Push(stream);
        }
    }

    private Stack<QMuxStream> Spares(bool isLocal) => isLocal ? _spareStreams : _sparePeerStreams;

    /// <summary>Keeps a buffer whose stream sent its FIN for the next stream, up to a few per connection.</summary>
    internal void RecycleSendBufferLocked(QMuxSendBuffer buffer)
    {
        if (_spareSendBuffers.Count < MaxSpares)
        {
            _spareSendBuffers.Push(buffer);
        }
    }

    internal void RemoveReadyLocked(QMuxStream stream)
    {
        stream.InReady = false;
        _ready.Remove(stream);
    }

    /// <summary>How often <see cref="KeepAliveTick"/> runs: a sixth of our idle timeout, within 50 ms and 1 s.</summary>
    private long KeepAlivePeriodMs => Math.Clamp((long)_options.IdleTimeout.TotalMilliseconds / 6, 50, 1000);

    /// <summary>
    /// Called by <see cref="QMuxKeepAlive"/> each period: closes a connection the peer has been silent on for our idle
    /// timeout, and pings the peer when we have sent nothing for a third of the effective one (the smaller of ours and
    /// the peer's), so it never times us out.
    /// </summary>
    internal void KeepAliveTick(long now)
    {
        if (_closed.Task.IsCompleted)
        {
            return;
        }
        var ours = (long)_options.IdleTimeout.TotalMilliseconds;
        if (now - Volatile.Read(ref _lastReceived) > ours)
        {
            lock (_gate)
            {
                _closing = true;
                _control.Enqueue(CloseFrame(QMuxFrameType.ApplicationClose, (ulong)MoqErrorCode.Timeout, "idle timeout"));
            }
            Kick();
            Shutdown(new MoqCloseInfo((ulong)MoqErrorCode.Timeout, "idle timeout", ClosedByPeer: false));
            return;
        }
        var peer = (long)(_peer?.MaxIdleTimeoutMs ?? 0);
        var effective = peer > 0 ? Math.Min(peer, ours) : ours;
        if (now - Volatile.Read(ref _lastSent) > effective / 3)
        {
            lock (_gate)
            {
                QueueControlLocked(Frame(QMuxFrameType.PingRequest, ++_pingSequence));
            }
            Kick();
        }
    }

    /// <summary>A keep-alive tick failed (a bug, not the network): the connection closes rather than the process.</summary>
    internal void KeepAliveFailed(Exception ex) =>
        Shutdown(new MoqCloseInfo((ulong)MoqErrorCode.Transport, "keep-alive failed: " + ex.Message, ClosedByPeer: false));

    /// <summary>Writes a STREAM frame header (type with OFF and LEN, id, offset, length) and returns its size.</summary>
    internal static int WriteStreamHeader(Span<byte> destination, long id, ulong offset, int length, bool fin)
    {
        var n = VarInt.Write(destination, QMuxFrameType.StreamBase | QMuxFrameType.Off | QMuxFrameType.Len | (fin ? QMuxFrameType.Fin : 0));
        n += VarInt.Write(destination[n..], (ulong)id);
        n += VarInt.Write(destination[n..], offset);
        n += VarInt.Write(destination[n..], (ulong)length);
        return n;
    }
}
