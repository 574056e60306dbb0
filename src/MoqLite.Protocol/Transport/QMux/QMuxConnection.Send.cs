using System.Buffers;
using System.Net.WebSockets;
using MoqLite.Coding;

namespace MoqLite.Transport.QMux;

// The send side: one loop owns the WebSocket's sending half and packs frames into messages.
public sealed partial class QMuxConnection
{
    private const int SendBufferSize = 64 * 1024;
    private readonly TaskCompletionSource _sendLoopDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task SendLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(SendBufferSize);
        try
        {
            while (true)
            {
                int length;
                lock (_gate)
                {
                    length = BuildMessageLocked(buffer);
                }
                if (length > 0)
                {
                    await _socket.SendAsync(buffer.AsMemory(0, length), WebSocketMessageType.Binary, endOfMessage: true, _shutdown.Token).ConfigureAwait(false);
                    Volatile.Write(ref _lastSent, Environment.TickCount64);
                    continue;
                }
                if (_closed.Task.IsCompleted)
                {
                    return;
                }
                await _sendSignal.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            Shutdown(new MoqCloseInfo((ulong)MoqErrorCode.Transport, "WebSocket lost: " + ex.Message, ClosedByPeer: true));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _sendLoopDone.TrySetResult();
        }
    }

    /// <summary>
    /// Fills one WebSocket message: control frames first, then stream data by priority. qmux-00 carries exactly
    /// one frame per message; 01/02 pack frames up to the peer's max_record_size.
    /// </summary>
    private int BuildMessageLocked(byte[] buffer)
    {
        var single = Version == QMuxVersion.Draft00;
        var budget = single ? MaxFrameSize00 : (int)Math.Min(_peer?.MaxRecordSize ?? QMuxTransportParameters.DefaultMaxRecordSize, SendBufferSize);
        var used = 0;
        while (_control.TryPeek(out var frame) && used + frame.Length <= Math.Max(budget, frame.Length))
        {
            if (used > 0 && used + frame.Length > budget)
            {
                break;
            }
            frame.CopyTo(buffer.AsSpan(used));
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
            var written = stream.WriteFrameLocked(buffer.AsSpan(used, budget - used), ref _sentData, _peerMaxData);
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
        }
        _sendSignal.Set();
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
        _sendSignal.Set();
    }

    internal object Gate => _gate;

    internal long StreamSendBuffer => _options.StreamSendBuffer;

    internal void RemoveReadyLocked(QMuxStream stream)
    {
        stream.InReady = false;
        _ready.Remove(stream);
    }

    private async Task KeepAliveLoopAsync()
    {
        var ours = (long)_options.IdleTimeout.TotalMilliseconds;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Clamp(ours / 6, 50, 1000)));
        try
        {
            while (await timer.WaitForNextTickAsync(_shutdown.Token).ConfigureAwait(false))
            {
                var now = Environment.TickCount64;
                if (now - Volatile.Read(ref _lastReceived) > ours)
                {
                    lock (_gate)
                    {
                        _closing = true;
                        _control.Enqueue(CloseFrame(QMuxFrameType.ApplicationClose, (ulong)MoqErrorCode.Timeout, "idle timeout"));
                    }
                    _sendSignal.Set();
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
                    _sendSignal.Set();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Connection closed.
        }
    }

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
