using System.Buffers;
using System.Net.WebSockets;
using System.Numerics;
using MoqLite.Coding;

namespace MoqLite.Transport.QMux;

// The receive side: WebSocket messages → frames → per-stream receive buffers, with flow-control accounting.
public sealed partial class QMuxConnection
{
    // Receives that complete at once, back to back, before the loop lets other work run. While the peer keeps the
    // socket full, every receive completes synchronously and the loop would never give its thread back: in a process
    // with many connections, the others' receives (and the applications reading groups) then starved — new sessions
    // timed out during their handshake.
    private const int MaxInlineReceives = 16;
    private const int InitialReceiveBuffer = 16 * 1024;

    // The buffer the message being processed lies in (touched only by the receive loop).
    private SharedBuffer? _receiving;

    private async Task ReceiveLoopAsync()
    {
        // Our own limit on a message: max_record_size on 01/02, one 16 KiB frame on 00.
        var limit = Version == QMuxVersion.Draft00 ? MaxFrameSize00 : (int)_local.MaxRecordSize;
        // Small to start with: most connections (an idle viewer, a control-only peer) never need more.
        var buffer = new SharedBuffer(Math.Min(limit + 1, InitialReceiveBuffer));
        var inlineReceives = 0;
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == buffer.Array.Length)
                    {
                        if (length > limit)
                        {
                            throw QMuxTransportParameters.Violation($"WebSocket message exceeds {limit} bytes");
                        }
                        var larger = new SharedBuffer(Math.Min(limit + 1, 2 * length));
                        buffer.Array.AsSpan(0, length).CopyTo(larger.Array);
                        buffer.Release();
                        buffer = larger;
                    }
                    var receive = _socket.ReceiveAsync(buffer.Array.AsMemory(length), _shutdown.Token);
                    inlineReceives = receive.IsCompleted ? inlineReceives + 1 : 0;
                    result = await receive.ConfigureAwait(false);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (length > limit)
                {
                    throw QMuxTransportParameters.Violation($"WebSocket message exceeds {limit} bytes");
                }
                Volatile.Write(ref _lastReceived, Environment.TickCount64);
                switch (result.MessageType)
                {
                    case WebSocketMessageType.Close:
                        Shutdown(new MoqCloseInfo(0, _socket.CloseStatusDescription ?? "WebSocket closed", ClosedByPeer: true));
                        return;
                    case WebSocketMessageType.Text:
                        throw QMuxTransportParameters.Violation("text WebSocket message");
                }
                _receiving = buffer;
                ProcessMessage(buffer.Array.AsMemory(0, length));
                _receiving = null;
                if (buffer.IsShared)
                {
                    // Groups kept their frames in it: the next message goes into a new buffer, sized for messages like
                    // this one so a group held in a cache does not pin much more than itself.
                    buffer.Release();
                    buffer = new SharedBuffer(Math.Min(limit + 1, Math.Max(InitialReceiveBuffer, (int)BitOperations.RoundUpToPowerOf2((uint)length))));
                }
                if (_closed.Task.IsCompleted)
                {
                    return;
                }
                if (inlineReceives >= MaxInlineReceives)
                {
                    inlineReceives = 0;
                    await Task.Yield();
                }
            }
        }
        catch (ProtocolViolationException violation)
        {
            Fail(violation);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            Shutdown(new MoqCloseInfo((ulong)MoqErrorCode.Transport, "WebSocket lost: " + ex.Message, ClosedByPeer: true));
        }
        finally
        {
            _receiving = null;
            buffer.Release();
        }
    }

    private void ProcessMessage(ReadOnlyMemory<byte> message)
    {
        if (message.IsEmpty)
        {
            throw QMuxTransportParameters.Violation("empty WebSocket message");
        }
        do
        {
            var rest = ProcessFrame(message);
            message = message[(message.Length - rest.Length)..];
            if (_opened.Count > 0)
            {
                // Handed over once their first bytes are in, so the acceptor can parse at once.
                lock (_gate)
                {
                    foreach (var stream in _opened)
                    {
                        _acceptable.Enqueue(stream);
                    }
                }
                _opened.Clear();
                _acceptSignal.Set();
            }
        }
        while (!message.IsEmpty && Version != QMuxVersion.Draft00);
        if (!message.IsEmpty)
        {
            throw QMuxTransportParameters.Violation("qmux-00 message carries more than one frame");
        }
    }

    /// <summary>Handles the frame at the front of <paramref name="message"/> and returns what follows it.</summary>
    private ReadOnlySpan<byte> ProcessFrame(ReadOnlyMemory<byte> message)
    {
        var span = message.Span;
        var type = QMuxTransportParameters.Take(ref span);
        if (_peer is null && Version == QMuxVersion.Draft02 && type != QMuxFrameType.TransportParameters)
        {
            throw QMuxTransportParameters.Violation("the first frame must be QX_TRANSPORT_PARAMETERS");
        }
        switch (type)
        {
            case QMuxFrameType.Padding when Version != QMuxVersion.Draft00:
                return span;
            case >= QMuxFrameType.StreamBase and <= QMuxFrameType.StreamMax:
                return ReceiveStreamFrame(type, message, span);
            case QMuxFrameType.ResetStream:
            case QMuxFrameType.ResetStreamAt when Version == QMuxVersion.Draft02:
            {
                var id = QMuxTransportParameters.Take(ref span);
                var code = QMuxTransportParameters.Take(ref span);
                var finalSize = QMuxTransportParameters.Take(ref span);
                if (type == QMuxFrameType.ResetStreamAt)
                {
                    QMuxTransportParameters.Take(ref span);
                }
                ReceiveReset((long)id, code, finalSize);
                return span;
            }
            case QMuxFrameType.StopSending:
            {
                var id = QMuxTransportParameters.Take(ref span);
                var code = QMuxTransportParameters.Take(ref span);
                ReceiveStopSending((long)id, code);
                return span;
            }
            case QMuxFrameType.MaxData:
            {
                var max = QMuxTransportParameters.Take(ref span);
                lock (_gate)
                {
                    if (max > _peerMaxData)
                    {
                        _peerMaxData = max;
                        foreach (var stream in _streams.Values)
                        {
                            WakeLocked(stream);
                        }
                    }
                }
                Kick();
                return span;
            }
            case QMuxFrameType.MaxStreamData:
            {
                var id = (long)QMuxTransportParameters.Take(ref span);
                var max = QMuxTransportParameters.Take(ref span);
                lock (_gate)
                {
                    if (_streams.TryGetValue(id, out var stream) && max > stream.SendMax)
                    {
                        stream.SendMax = max;
                        WakeLocked(stream);
                    }
                }
                Kick();
                return span;
            }
            case QMuxFrameType.MaxStreamsBidi:
            case QMuxFrameType.MaxStreamsUni:
                RaiseStreamLimit(type == QMuxFrameType.MaxStreamsUni, QMuxTransportParameters.Take(ref span));
                return span;
            case QMuxFrameType.DataBlocked:
            case QMuxFrameType.StreamsBlockedBidi:
            case QMuxFrameType.StreamsBlockedUni:
                QMuxTransportParameters.Take(ref span);
                return span;
            case QMuxFrameType.StreamDataBlocked:
                QMuxTransportParameters.Take(ref span);
                QMuxTransportParameters.Take(ref span);
                return span;
            case QMuxFrameType.ConnectionClose:
            case QMuxFrameType.ApplicationClose:
            {
                var code = QMuxTransportParameters.Take(ref span);
                if (type == QMuxFrameType.ConnectionClose)
                {
                    QMuxTransportParameters.Take(ref span);
                }
                var length = QMuxTransportParameters.Take(ref span);
                var reason = length <= (ulong)span.Length ? System.Text.Encoding.UTF8.GetString(span[..(int)length]) : string.Empty;
                Shutdown(new MoqCloseInfo(code, reason, ClosedByPeer: true));
                return [];
            }
            case QMuxFrameType.TransportParameters:
            {
                var length = QMuxTransportParameters.Take(ref span);
                if (length > (ulong)span.Length)
                {
                    throw QMuxTransportParameters.Violation("transport parameters longer than the message");
                }
                ReceiveTransportParameters(QMuxTransportParameters.Read(span[..(int)length]));
                return span[(int)length..];
            }
            case QMuxFrameType.PingRequest when Version != QMuxVersion.Draft00:
            {
                var sequence = QMuxTransportParameters.Take(ref span);
                lock (_gate)
                {
                    QueueControlLocked(Frame(QMuxFrameType.PingResponse, sequence));
                }
                Kick();
                return span;
            }
            case QMuxFrameType.PingResponse when Version != QMuxVersion.Draft00:
                QMuxTransportParameters.Take(ref span);
                return span;
            default:
                // Datagrams included: we never advertise max_datagram_frame_size, so none may arrive.
                throw QMuxTransportParameters.Violation($"unexpected frame type 0x{type:x}");
        }
    }

    private void ReceiveTransportParameters(QMuxTransportParameters peer)
    {
        lock (_gate)
        {
            if (_peer is not null)
            {
                throw QMuxTransportParameters.Violation("QX_TRANSPORT_PARAMETERS sent twice");
            }
            _peer = peer;
            _peerMaxData = Math.Max(_peerMaxData, peer.InitialMaxData);
            foreach (var stream in _streams.Values)
            {
                stream.SendMax = Math.Max(stream.SendMax, InitialSendWindow(stream));
                WakeLocked(stream);
            }
        }
        RaiseStreamLimit(unidirectional: false, peer.InitialMaxStreamsBidi);
        RaiseStreamLimit(unidirectional: true, peer.InitialMaxStreamsUni);
    }

    private void RaiseStreamLimit(bool unidirectional, ulong max)
    {
        // A peer raises the limit as our streams finish, about once per group on a relay: allocate only for waiters.
        List<TaskCompletionSource>? wake = null;
        lock (_gate)
        {
            ref var limit = ref unidirectional ? ref _peerMaxStreamsUni : ref _peerMaxStreamsBidi;
            if (max <= limit)
            {
                return;
            }
            limit = max;
            var kept = 0;
            for (var i = 0; i < _openWaiters.Count; i++)
            {
                var waiter = _openWaiters[i];
                if (waiter.Unidirectional == unidirectional)
                {
                    (wake ??= []).Add(waiter.Waiter);
                }
                else
                {
                    _openWaiters[kept++] = waiter;
                }
            }
            _openWaiters.RemoveRange(kept, _openWaiters.Count - kept);
        }
        if (wake is not null)
        {
            foreach (var waiter in wake)
            {
                waiter.TrySetResult();
            }
        }
        Kick();
    }

    /// <param name="type">The frame type, already read.</param>
    /// <param name="message">The message the frame is in; <paramref name="span"/> is its tail after the type.</param>
    /// <param name="span">The rest of the frame, and whatever follows it.</param>
    private ReadOnlySpan<byte> ReceiveStreamFrame(ulong type, ReadOnlyMemory<byte> message, ReadOnlySpan<byte> span)
    {
        var id = (long)QMuxTransportParameters.Take(ref span);
        var offset = (type & QMuxFrameType.Off) != 0 ? QMuxTransportParameters.Take(ref span) : 0;
        int length;
        if ((type & QMuxFrameType.Len) != 0)
        {
            var declared = QMuxTransportParameters.Take(ref span);
            if (declared > (ulong)span.Length)
            {
                throw QMuxTransportParameters.Violation("STREAM length runs past the message");
            }
            length = (int)declared;
        }
        else
        {
            length = span.Length;
        }
        var data = span[..length];
        var fin = (type & QMuxFrameType.Fin) != 0;
        if (fin && offset == 0 && TryReceiveWholeStream(id, message.Slice(message.Length - span.Length, length)))
        {
            return span[length..];
        }
        QMuxStream? stream;
        lock (_gate)
        {
            stream = StreamForReceiveLocked(id);
            if (_receivedData + (ulong)length > _maxData)
            {
                throw QMuxTransportParameters.Violation("connection flow control exceeded");
            }
            if (stream is not null)
            {
                if (offset != stream.ReceivedBytes)
                {
                    throw QMuxTransportParameters.Violation($"stream {id}: data at offset {offset}, expected {stream.ReceivedBytes}");
                }
                if (offset + (ulong)length > stream.ReceiveMax)
                {
                    throw QMuxTransportParameters.Violation($"stream {id}: flow control exceeded");
                }
                stream.ReceivedBytes += (ulong)length;
            }
            _receivedData += (ulong)length;
        }
        if (stream is null)
        {
            // A stream we already finished with: its bytes still count against the connection, then are discarded.
            OnConsumed(null, (ulong)length);
        }
        else
        {
            stream.Deliver(data, fin);
        }
        return span[length..];
    }

    /// <summary>
    /// A peer unidirectional stream whose first frame carries all of it — a group that fits one message — goes
    /// straight to <see cref="MoqTransportConnection.WholeStreamReceived"/>. It is opened and retired on the spot, with
    /// the accounting any stream gets: connection credit consumed and granted back, stream credit replenished. Groups
    /// of one subscription go newest first, so a stream often arrives before lower ones it opens implicitly; those
    /// can still arrive whole later. A stream already seen, or one that would break a limit, takes the stream path,
    /// which knows what to do with it.
    /// </summary>
    private bool TryReceiveWholeStream(long id, ReadOnlyMemory<byte> data)
    {
        if (!IsPeerUnidirectional(id) || WholeStreamReceived is not { } handler)
        {
            return false;
        }
        var index = (ulong)id >> 2;
        var length = (ulong)data.Length;
        lock (_gate)
        {
            var unseen = index >= _peerOpenedUni ? index < _grantedStreamsUni : _implicitlyOpened.Contains(id);
            if (!unseen || _closing || length > _options.StreamReceiveWindow || _receivedData + length > _maxData)
            {
                return false;
            }
        }
        // Only this loop opens peer streams, so the checks above still hold.
        if (!handler(new ReadOnlySequence<byte>(data), _receiving))
        {
            return false;
        }
        bool granted;
        lock (_gate)
        {
            if (index >= _peerOpenedUni)
            {
                OpenUpToLocked(ref _peerOpenedUni, id);
            }
            else
            {
                _implicitlyOpened.Remove(id);
            }
            _receivedData += length;
            granted = RetirePeerStreamLocked(unidirectional: true);
        }
        OnConsumed(null, length);
        if (granted)
        {
            Kick();
        }
        return true;
    }

    /// <summary>Whether the peer opened stream <paramref name="id"/>: its low bit names the side that did (RFC 9000 §2.1).</summary>
    private bool IsPeerInitiated(long id) => ((id & 1) == 1) != _isServer;

    private bool IsPeerUnidirectional(long id) => (id & 2) != 0 && IsPeerInitiated(id);

    /// <summary>Finds (or implicitly opens) the stream a peer frame names; null when it was already retired.</summary>
    private QMuxStream? StreamForReceiveLocked(long id)
    {
        if (_streams.TryGetValue(id, out var stream))
        {
            if (stream.IsUnidirectional && stream.IsLocal)
            {
                throw QMuxTransportParameters.Violation($"stream {id} is send-only for the peer's side");
            }
            return stream;
        }
        var unidirectional = (id & 2) != 0;
        var index = (ulong)id >> 2;
        if (!IsPeerInitiated(id))
        {
            if (unidirectional)
            {
                throw QMuxTransportParameters.Violation($"stream {id} is send-only for the peer's side");
            }
            if (index >= _openedBidi)
            {
                throw QMuxTransportParameters.Violation($"stream {id} was never opened");
            }
            return null;
        }
        ref var opened = ref unidirectional ? ref _peerOpenedUni : ref _peerOpenedBidi;
        if (index < opened)
        {
            // Implicitly opened earlier and seen only now; otherwise retired already.
            return _implicitlyOpened.Remove(id) ? OpenPeerStreamLocked(id, unidirectional) : null;
        }
        if (index >= (unidirectional ? _grantedStreamsUni : _grantedStreamsBidi))
        {
            throw QMuxTransportParameters.Violation($"stream {id} exceeds the stream limit");
        }
        OpenUpToLocked(ref opened, id);
        return OpenPeerStreamLocked(id, unidirectional);
    }

    /// <summary>
    /// Stream <paramref name="id"/> opens every lower one of its kind not yet open (RFC 9000 §3.2). They get a stream
    /// object only when their first frame arrives: one that arrives whole may never need one.
    /// </summary>
    private void OpenUpToLocked(ref ulong opened, long id)
    {
        var index = (ulong)id >> 2;
        for (; opened < index; opened++)
        {
            _implicitlyOpened.Add((long)(opened << 2) | (id & 3));
        }
        opened = index + 1;
    }

    private QMuxStream OpenPeerStreamLocked(long id, bool unidirectional)
    {
        var stream = CreateStreamLocked(id, unidirectional, isLocal: false);
        _streams[id] = stream;
        _opened.Add(stream);
        return stream;
    }

    private void ReceiveReset(long id, ulong code, ulong finalSize)
    {
        QMuxStream? stream;
        lock (_gate)
        {
            stream = StreamForReceiveLocked(id);
            if (stream is not null && finalSize > stream.ReceivedBytes)
            {
                var extra = finalSize - stream.ReceivedBytes;
                _receivedData += extra;
                stream.ReceivedBytes = finalSize;
                _consumedData += extra;
            }
        }
        stream?.PeerReset(code);
    }

    private void ReceiveStopSending(long id, ulong code)
    {
        QMuxStream? stream;
        lock (_gate)
        {
            _streams.TryGetValue(id, out stream);
            if (IsPeerUnidirectional(id))
            {
                throw QMuxTransportParameters.Violation($"STOP_SENDING for receive-only stream {id}");
            }
        }
        stream?.PeerStopSending(code);
    }

    /// <summary>The application consumed <paramref name="bytes"/>: grant more stream and connection credit.</summary>
    internal void OnConsumed(QMuxStream? stream, ulong bytes)
    {
        var signal = false;
        lock (_gate)
        {
            _consumedData += bytes;
            if (_maxData - _consumedData <= _options.ReceiveWindow / 2 && !_closing)
            {
                _maxData = _consumedData + _options.ReceiveWindow;
                QueueControlLocked(Frame(QMuxFrameType.MaxData, _maxData));
                signal = true;
            }
            if (stream is not null)
            {
                stream.ConsumedBytes += bytes;
                if (!stream.ReceiveDone && stream.ReceiveMax - stream.ConsumedBytes <= _options.StreamReceiveWindow / 2)
                {
                    stream.ReceiveMax = stream.ConsumedBytes + _options.StreamReceiveWindow;
                    QueueControlLocked(Frame(QMuxFrameType.MaxStreamData, (ulong)stream.Id, stream.ReceiveMax));
                    signal = true;
                }
            }
        }
        if (signal)
        {
            Kick();
        }
    }

    /// <summary>
    /// A stream is finished in both directions: forget it and, for a peer stream, give the peer credit for another.
    /// </summary>
    internal void Retire(QMuxStream stream)
    {
        lock (_gate)
        {
            if (!_streams.Remove(stream.Id))
            {
                return;
            }
            if (stream.RetireLocked())
            {
                RecycleStreamLocked(stream);
            }
            if (stream.IsLocal || !RetirePeerStreamLocked(stream.IsUnidirectional))
            {
                return;
            }
        }
        Kick();
    }

    /// <summary>Counts a finished peer stream; true when that queued MAX_STREAMS with more credit.</summary>
    private bool RetirePeerStreamLocked(bool unidirectional)
    {
        ref var retired = ref unidirectional ? ref _retiredUni : ref _retiredBidi;
        ref var granted = ref unidirectional ? ref _grantedStreamsUni : ref _grantedStreamsBidi;
        retired++;
        // Replenish continuously: a publisher opens one stream per group and must never stall on credit.
        if (retired + _options.MaxConcurrentStreams - granted < Math.Max(1, _options.MaxConcurrentStreams / 4) || _closing)
        {
            return false;
        }
        granted = retired + _options.MaxConcurrentStreams;
        QueueControlLocked(Frame(unidirectional ? QMuxFrameType.MaxStreamsUni : QMuxFrameType.MaxStreamsBidi, granted));
        return true;
    }

    internal ulong StreamReceiveWindow => _options.StreamReceiveWindow;

    internal ulong InitialSendWindow(QMuxStream stream)
    {
        if (_peer is null)
        {
            return 0;
        }
        return stream.IsUnidirectional ? _peer.InitialMaxStreamDataUni
            : stream.IsLocal ? _peer.InitialMaxStreamDataBidiRemote : _peer.InitialMaxStreamDataBidiLocal;
    }
}
