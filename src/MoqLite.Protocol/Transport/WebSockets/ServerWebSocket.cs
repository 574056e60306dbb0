using System.Buffers;
using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Tasks.Sources;
using MoqLite.Coding;

namespace MoqLite.Transport.WebSockets;

/// <summary>
/// The server end of a WebSocket (RFC 6455) on an upgraded HTTP connection. It exists for one reason: a relay sends
/// every group to every subscriber, and <see cref="SendPreframedAsync"/> lets QMux build a message with room for the
/// frame header in front, so the bytes go to the connection as they are. The framework's WebSocket copies each
/// message into a buffer of its own first — one more copy of every payload per subscriber. No extensions are
/// negotiated and it sends no keep-alive pings: QMux has its own.
/// </summary>
internal sealed class ServerWebSocket : WebSocket, IValueTaskSource
{
    /// <summary>The most a frame header from the server takes: two bytes, a 64-bit length, no mask.</summary>
    public const int MaxHeaderSize = 10;

    private const int MaxControlPayload = 125;
    // Headers and control frames are read through this; larger payloads go straight into the caller's buffer.
    private const int ReceiveBufferSize = 256;
    private const byte ContinuationOpcode = 0x0;
    private const byte TextOpcode = 0x1;
    private const byte BinaryOpcode = 0x2;
    private const byte CloseOpcode = 0x8;
    private const byte PingOpcode = 0x9;
    private const byte PongOpcode = 0xA;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Stream _stream;
    private readonly Action? _abortConnection;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly object _stateGate = new();
    private volatile WebSocketState _state = WebSocketState.Open;
    private WebSocketCloseStatus? _closeStatus;
    private string? _closeDescription;
    private bool _sendingFragments;
    private bool _disposed;

    // A frame's write still under way, and the caller's wait for it: one at a time, since the send lock is held until
    // it completes. Reused for every such write, because under back-pressure nearly every message's write waits.
    private ValueTask _writeInFlight;
    private WaiterCore<bool> _written;
    private Action? _onWritten;

    // Receive side: one receive at a time, as with any WebSocket.
    private readonly byte[] _receiveBuffer = new byte[ReceiveBufferSize];
    private int _bufferedStart;
    private int _bufferedEnd;
    private bool _inFrame;
    private bool _frameFinal;
    private long _frameRemaining;
    private uint _mask;
    private int _maskIndex;
    private bool _inMessage;
    private WebSocketMessageType _messageType;

    /// <param name="stream">The upgraded connection.</param>
    /// <param name="subProtocol">The subprotocol the handshake selected.</param>
    /// <param name="abortConnection">Tears the HTTP connection down when the socket is aborted.</param>
    public ServerWebSocket(Stream stream, string? subProtocol, Action? abortConnection = null)
    {
        _stream = stream;
        SubProtocol = subProtocol;
        _abortConnection = abortConnection;
    }

    public override WebSocketCloseStatus? CloseStatus => _closeStatus;

    public override string? CloseStatusDescription => _closeDescription;

    public override WebSocketState State => _state;

    public override string? SubProtocol { get; }

    /// <summary>
    /// Sends one binary message whose payload is <paramref name="buffer"/>[<paramref name="payloadStart"/>..+<paramref name="payloadLength"/>];
    /// the <see cref="MaxHeaderSize"/> bytes before it are overwritten with the frame header.
    /// </summary>
    public ValueTask SendPreframedAsync(byte[] buffer, int payloadStart, int payloadLength)
    {
        var headerSize = HeaderSize(payloadLength);
        var start = payloadStart - headerSize;
        WriteHeader(buffer.AsSpan(start), BinaryOpcode, final: true, payloadLength);
        return WriteFrameAsync(buffer.AsMemory(start, headerSize + payloadLength), CancellationToken.None);
    }

    public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken) =>
        SendAsync(buffer.AsMemory(), messageType, endOfMessage, cancellationToken).AsTask();

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
    {
        if (messageType is not (WebSocketMessageType.Binary or WebSocketMessageType.Text))
        {
            throw new ArgumentException("Only text and binary messages are sent this way; close with CloseOutputAsync.", nameof(messageType));
        }
        var opcode = _sendingFragments ? ContinuationOpcode : messageType == WebSocketMessageType.Text ? TextOpcode : BinaryOpcode;
        _sendingFragments = !endOfMessage;
        await WriteCopiedFrameAsync(opcode, endOfMessage, buffer, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
    {
        var result = await ReceiveAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
        return result.MessageType == WebSocketMessageType.Close
            ? new WebSocketReceiveResult(0, WebSocketMessageType.Close, true, _closeStatus, _closeDescription)
            : new WebSocketReceiveResult(result.Count, result.MessageType, result.EndOfMessage);
    }

    /// <summary>Receives the next piece of a message. A peer that breaks the framing rules gets close 1002 and an exception.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_state is not (WebSocketState.Open or WebSocketState.CloseSent))
        {
            throw new WebSocketException(WebSocketError.InvalidState, $"Cannot receive in state {_state}.");
        }
        try
        {
            while (true)
            {
                if (!_inFrame)
                {
                    var (final, opcode, length) = await ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
                    if (opcode >= CloseOpcode)
                    {
                        if (await ReceiveControlAsync(opcode, (int)length, cancellationToken).ConfigureAwait(false))
                        {
                            return new ValueWebSocketReceiveResult(0, WebSocketMessageType.Close, endOfMessage: true);
                        }
                        continue;
                    }
                    StartDataFrame(final, opcode, length);
                    if (length == 0)
                    {
                        _inFrame = false;
                        if (final)
                        {
                            _inMessage = false;
                            return new ValueWebSocketReceiveResult(0, _messageType, endOfMessage: true);
                        }
                        continue;
                    }
                }
                if (buffer.IsEmpty)
                {
                    return new ValueWebSocketReceiveResult(0, _messageType, endOfMessage: false);
                }
                var wanted = (int)Math.Min(_frameRemaining, buffer.Length);
                int count;
                if (_bufferedEnd > _bufferedStart)
                {
                    count = Math.Min(wanted, _bufferedEnd - _bufferedStart);
                    _receiveBuffer.AsSpan(_bufferedStart, count).CopyTo(buffer.Span);
                    _bufferedStart += count;
                }
                else
                {
                    count = await _stream.ReadAsync(buffer[..wanted], cancellationToken).ConfigureAwait(false);
                    if (count == 0)
                    {
                        throw Premature();
                    }
                }
                _maskIndex = Unmask(buffer.Span[..count], _mask, _maskIndex);
                _frameRemaining -= count;
                var end = false;
                if (_frameRemaining == 0)
                {
                    _inFrame = false;
                    end = _frameFinal;
                    _inMessage &= !end;
                }
                return new ValueWebSocketReceiveResult(count, _messageType, end);
            }
        }
        catch (FramingException violation)
        {
            await FailAsync(violation.Status, violation.Message).ConfigureAwait(false);
            throw new WebSocketException(WebSocketError.Faulted, violation.Message);
        }
    }

    public override async Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        lock (_stateGate)
        {
            if (_state is not (WebSocketState.Open or WebSocketState.CloseReceived))
            {
                return;
            }
        }
        await WriteCloseAsync(closeStatus, statusDescription, cancellationToken).ConfigureAwait(false);
        lock (_stateGate)
        {
            _state = _state switch
            {
                WebSocketState.Open => WebSocketState.CloseSent,
                WebSocketState.CloseReceived => WebSocketState.Closed,
                var other => other,
            };
        }
    }

    public override async Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        await CloseOutputAsync(closeStatus, statusDescription, cancellationToken).ConfigureAwait(false);
        // The close handshake ends with the peer's close frame; what comes before it is dropped.
        var sink = new byte[MaxControlPayload];
        while (_state == WebSocketState.CloseSent)
        {
            await ReceiveAsync(sink.AsMemory(), cancellationToken).ConfigureAwait(false);
        }
    }

    public override void Abort()
    {
        if (MarkAborted())
        {
            _abortConnection?.Invoke();
            DisposeStream();
        }
    }

    private bool MarkAborted()
    {
        lock (_stateGate)
        {
            if (_state is WebSocketState.Closed or WebSocketState.Aborted)
            {
                return false;
            }
            _state = WebSocketState.Aborted;
            return true;
        }
    }

    public override void Dispose()
    {
        lock (_stateGate)
        {
            if (_state is not (WebSocketState.Closed or WebSocketState.Aborted))
            {
                _state = WebSocketState.Closed;
            }
        }
        DisposeStream();
    }

    private void DisposeStream()
    {
        lock (_stateGate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        _stream.Dispose();
    }

    /// <summary>Writes one whole frame, after any frame already on its way; never interleaved with another.</summary>
    private ValueTask WriteFrameAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        if (_state is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return ValueTask.FromException(new WebSocketException(WebSocketError.InvalidState, $"Cannot send in state {_state}."));
        }
        if (!_sendLock.Wait(0, CancellationToken.None))
        {
            return WriteFrameAfterLockAsync(frame, cancellationToken);
        }
        ValueTask write;
        try
        {
            write = _stream.WriteAsync(frame, cancellationToken);
        }
        catch
        {
            _sendLock.Release();
            throw;
        }
        if (write.IsCompletedSuccessfully)
        {
            _sendLock.Release();
            return default;
        }
        return ReleaseAfter(write);
    }

    private async ValueTask WriteFrameAfterLockAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Holds the send lock until <paramref name="write"/> completes, then releases it and completes the returned wait.</summary>
    private ValueTask ReleaseAfter(ValueTask write)
    {
        // Only the send lock's holder gets here, so the wait needs no other lock.
        var token = _written.BeginLocked();
        _writeInFlight = write;
        write.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onWritten ??= OnWritten);
        return new ValueTask(this, token);
    }

    private void OnWritten()
    {
        var write = _writeInFlight;
        _writeInFlight = default;
        Exception? error = null;
        try
        {
            write.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            error = ex;
        }
        _written.IsWaiting = false;
        // Released first: the waiter, resumed inline, often sends its next message at once.
        _sendLock.Release();
        if (error is null)
        {
            _written.SetResult(true);
        }
        else
        {
            _written.SetException(error);
        }
    }

    void IValueTaskSource.GetResult(short token) => _written.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _written.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _written.OnCompleted(continuation, state, token, flags);

    private ValueTask WriteCloseAsync(WebSocketCloseStatus status, string? description, CancellationToken cancellationToken)
    {
        var reason = Encoding.UTF8.GetBytes(description ?? string.Empty);
        var length = status == WebSocketCloseStatus.Empty ? 0 : 2 + Math.Min(reason.Length, MaxControlPayload - 2);
        var payload = new byte[length];
        if (length > 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)status);
            reason.AsSpan(0, length - 2).CopyTo(payload.AsSpan(2));
        }
        return WriteCopiedFrameAsync(CloseOpcode, final: true, payload, cancellationToken);
    }

    /// <summary>Writes a frame whose payload the caller does not lay out behind header room: header and payload go into a rented buffer.</summary>
    private async ValueTask WriteCopiedFrameAsync(byte opcode, bool final, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var headerSize = HeaderSize(payload.Length);
        var frame = ArrayPool<byte>.Shared.Rent(headerSize + payload.Length);
        try
        {
            WriteHeader(frame, opcode, final, payload.Length);
            payload.Span.CopyTo(frame.AsSpan(headerSize));
            await WriteFrameAsync(frame.AsMemory(0, headerSize + payload.Length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>Reads a frame header and checks what RFC 6455 requires of a client's frame.</summary>
    // Pooled, like FillAsync: an idle connection's receive waits here for every message it gets.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(bool Final, byte Opcode, long Length)> ReadHeaderAsync(CancellationToken cancellationToken)
    {
        await FillAsync(2, cancellationToken).ConfigureAwait(false);
        var first = _receiveBuffer[_bufferedStart];
        var second = _receiveBuffer[_bufferedStart + 1];
        if ((first & 0x70) != 0)
        {
            throw new FramingException("frame with reserved bits set (no extension was negotiated)");
        }
        if ((second & 0x80) == 0)
        {
            throw new FramingException("unmasked frame from the client");
        }
        var lengthCode = second & 0x7F;
        var headerSize = 2 + (lengthCode == 126 ? 2 : lengthCode == 127 ? 8 : 0) + 4;
        await FillAsync(headerSize, cancellationToken).ConfigureAwait(false);
        var header = _receiveBuffer.AsSpan(_bufferedStart, headerSize);
        _bufferedStart += headerSize;
        var final = (first & 0x80) != 0;
        var opcode = (byte)(first & 0x0F);
        long length = lengthCode switch
        {
            126 => BinaryPrimitives.ReadUInt16BigEndian(header[2..]),
            127 => (long)BinaryPrimitives.ReadUInt64BigEndian(header[2..]),
            _ => lengthCode,
        };
        if (length < 0)
        {
            throw new FramingException("frame length with the most significant bit set");
        }
        _mask = BinaryPrimitives.ReadUInt32LittleEndian(header[^4..]);
        switch (opcode)
        {
            case ContinuationOpcode or TextOpcode or BinaryOpcode:
                break;
            case CloseOpcode or PingOpcode or PongOpcode:
                if (!final || length > MaxControlPayload)
                {
                    throw new FramingException("fragmented control frame, or one over 125 bytes");
                }
                break;
            default:
                throw new FramingException($"unknown opcode {opcode}");
        }
        return (final, opcode, length);
    }

    private void StartDataFrame(bool final, byte opcode, long length)
    {
        if (opcode == ContinuationOpcode)
        {
            if (!_inMessage)
            {
                throw new FramingException("continuation frame outside a message");
            }
        }
        else
        {
            if (_inMessage)
            {
                throw new FramingException("new message before the previous one ended");
            }
            _inMessage = true;
            _messageType = opcode == TextOpcode ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
        }
        _inFrame = true;
        _frameFinal = final;
        _frameRemaining = length;
        _maskIndex = 0;
    }

    /// <summary>Answers a ping, skips a pong; true for a close frame, which ends receiving.</summary>
    private async ValueTask<bool> ReceiveControlAsync(byte opcode, int length, CancellationToken cancellationToken)
    {
        await FillAsync(length, cancellationToken).ConfigureAwait(false);
        var payload = _receiveBuffer.AsMemory(_bufferedStart, length);
        _bufferedStart += length;
        Unmask(payload.Span, _mask, 0);
        switch (opcode)
        {
            case PingOpcode:
                await WriteCopiedFrameAsync(PongOpcode, final: true, payload, cancellationToken).ConfigureAwait(false);
                return false;
            case PongOpcode:
                return false;
        }
        if (length == 1)
        {
            throw new FramingException("close frame with a one-byte payload");
        }
        WebSocketCloseStatus status = WebSocketCloseStatus.Empty;
        string? description = null;
        if (length >= 2)
        {
            var code = BinaryPrimitives.ReadUInt16BigEndian(payload.Span);
            if (!IsValidCloseCode(code))
            {
                throw new FramingException($"close code {code} is not one a peer may send");
            }
            status = (WebSocketCloseStatus)code;
            try
            {
                description = StrictUtf8.GetString(payload.Span[2..]);
            }
            catch (DecoderFallbackException)
            {
                throw new FramingException("close reason is not UTF-8", WebSocketCloseStatus.InvalidPayloadData);
            }
        }
        lock (_stateGate)
        {
            _closeStatus = status;
            _closeDescription = description;
            _state = _state == WebSocketState.CloseSent ? WebSocketState.Closed : WebSocketState.CloseReceived;
        }
        return true;
    }

    /// <summary>Makes at least <paramref name="count"/> bytes (at most the receive buffer) available from <see cref="_bufferedStart"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FillAsync(int count, CancellationToken cancellationToken)
    {
        if (_bufferedEnd - _bufferedStart >= count)
        {
            return;
        }
        if (_bufferedStart > 0)
        {
            _receiveBuffer.AsSpan(_bufferedStart, _bufferedEnd - _bufferedStart).CopyTo(_receiveBuffer);
            _bufferedEnd -= _bufferedStart;
            _bufferedStart = 0;
        }
        while (_bufferedEnd < count)
        {
            var read = await _stream.ReadAsync(_receiveBuffer.AsMemory(_bufferedEnd), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw Premature();
            }
            _bufferedEnd += read;
        }
    }

    /// <summary>
    /// Tells the peer why (close 1002 or 1007) and stops using the connection, which then ends gracefully with the
    /// request: aborting it at once could drop the close frame. A peer that does not take the frame is cut off.
    /// </summary>
    private async Task FailAsync(WebSocketCloseStatus status, string reason)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await WriteCloseAsync(status, reason, timeout.Token).ConfigureAwait(false);
            if (MarkAborted())
            {
                DisposeStream();
            }
            return;
        }
        catch (Exception ex) when (ex is IOException or WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is going anyway.
        }
        Abort();
    }

    private WebSocketException Premature()
    {
        lock (_stateGate)
        {
            if (_state is not (WebSocketState.Closed or WebSocketState.Aborted))
            {
                _state = WebSocketState.Aborted;
            }
        }
        return new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "The client closed the connection without a close frame.");
    }

    /// <summary>Codes a peer may put in a close frame: 1000–1003, 1007–1014, and the registered and private ranges.</summary>
    private static bool IsValidCloseCode(int code) =>
        code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);

    private static int HeaderSize(int payloadLength) => payloadLength <= 125 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10;

    private static void WriteHeader(Span<byte> destination, byte opcode, bool final, int payloadLength)
    {
        destination[0] = (byte)((final ? 0x80 : 0) | opcode);
        if (payloadLength <= 125)
        {
            destination[1] = (byte)payloadLength;
        }
        else if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
        }
        else
        {
            destination[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
        }
    }

    /// <summary>
    /// XORs <paramref name="data"/> with the client's mask, starting <paramref name="maskIndex"/> bytes into it (the
    /// mask as read little-endian: byte i of the key is bits 8i..8i+7); returns where the next byte starts.
    /// </summary>
    internal static int Unmask(Span<byte> data, uint mask, int maskIndex)
    {
        var rotated = BitOperations.RotateRight(mask, 8 * maskIndex);
        var i = 0;
        if (BitConverter.IsLittleEndian)
        {
            var wide = rotated | ((ulong)rotated << 32);
            for (; i + 8 <= data.Length; i += 8)
            {
                var chunk = BinaryPrimitives.ReadUInt64LittleEndian(data[i..]);
                BinaryPrimitives.WriteUInt64LittleEndian(data[i..], chunk ^ wide);
            }
        }
        for (; i < data.Length; i++)
        {
            data[i] ^= (byte)(rotated >> (8 * (i & 3)));
        }
        return (maskIndex + data.Length) & 3;
    }

    /// <summary>A peer broke the framing rules; carries the close code to answer with.</summary>
    private sealed class FramingException(string message, WebSocketCloseStatus status = WebSocketCloseStatus.ProtocolError) : Exception(message)
    {
        public WebSocketCloseStatus Status { get; } = status;
    }
}
