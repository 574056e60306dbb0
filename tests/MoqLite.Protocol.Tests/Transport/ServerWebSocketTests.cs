using System.Buffers;
using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Text;
using CsCheck;
using MoqLite.Protocol.Tests.Sessions;
using MoqLite.Transport.QMux;
using MoqLite.Transport.WebSockets;

namespace MoqLite.Protocol.Tests.Transport;

/// <summary>
/// Our server WebSocket against the framework's client WebSocket (a complete RFC 6455 implementation) and against
/// hand-made frames for what a well-behaved client never sends. Browsers and the reference client in Node meet it
/// through the endpoint in the ASP.NET tests.
/// </summary>
public class ServerWebSocketTests
{
    private static readonly TimeSpan Timeout = SessionPair.Timeout;

    [Fact]
    public async Task Messages_of_every_length_encoding_cross_both_ways_intact()
    {
        var (server, client) = Connect();
        using var _ = server;
        using var __ = client;
        // 7-bit, 16-bit and 64-bit lengths, each at its edges.
        foreach (var length in new[] { 0, 1, 125, 126, 65535, 65536, 200_000 })
        {
            var payload = Payload(length);
            // Sent while received: the in-process pipe holds less than the largest message.
            var upload = client.SendAsync(payload, WebSocketMessageType.Binary, true, default);
            Assert.Equal(payload, await ReceiveMessageAsync(server));
            await upload.WaitAsync(Timeout);

            var framed = new byte[ServerWebSocket.MaxHeaderSize + length];
            payload.CopyTo(framed, ServerWebSocket.MaxHeaderSize);
            var send = server.SendPreframedAsync(framed, ServerWebSocket.MaxHeaderSize, length).AsTask();
            Assert.Equal(payload, await ReceiveMessageAsync(client));
            await send.WaitAsync(Timeout);
        }
    }

    [Fact]
    public async Task A_fragmented_client_message_arrives_in_order_and_ends_once()
    {
        var (server, client) = Connect();
        using var _ = server;
        using var __ = client;
        var payload = Payload(3000);
        await client.SendAsync(payload.AsMemory(0, 1000), WebSocketMessageType.Binary, false, default);
        await client.SendAsync(payload.AsMemory(1000, 0), WebSocketMessageType.Binary, false, default);
        await client.SendAsync(payload.AsMemory(1000), WebSocketMessageType.Binary, true, default);

        Assert.Equal(payload, await ReceiveMessageAsync(server));
        // The next message starts fresh.
        await client.SendAsync(new byte[] { 7 }, WebSocketMessageType.Text, true, default);
        var buffer = new byte[8];
        var result = await server.ReceiveAsync(buffer.AsMemory(), default).AsTask().WaitAsync(Timeout);
        Assert.Equal((1, WebSocketMessageType.Text, true), (result.Count, result.MessageType, result.EndOfMessage));
    }

    [Fact]
    public async Task A_ping_between_fragments_is_answered_with_its_payload()
    {
        var (serverStream, wire) = StreamPair.Create();
        using var server = new ServerWebSocket(serverStream, "test");
        await wire.WriteAsync(ClientFrame(0x02, final: false, [1, 2, 3]));
        await wire.WriteAsync(ClientFrame(0x09, final: true, "hi"u8.ToArray()));
        await wire.WriteAsync(ClientFrame(0x00, final: true, [4]));

        Assert.Equal(new byte[] { 1, 2, 3, 4 }, await ReceiveMessageAsync(server));
        var pong = new byte[4];
        await wire.ReadExactlyAsync(pong).AsTask().WaitAsync(Timeout);
        Assert.Equal(new byte[] { 0x8A, 2, (byte)'h', (byte)'i' }, pong);
    }

    [Fact]
    public async Task The_close_handshake_reports_the_clients_status_and_reason()
    {
        var (server, client) = Connect();
        using var _ = server;
        using var __ = client;
        var closing = client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", default);

        var result = await server.ReceiveAsync(new byte[16].AsMemory(), default).AsTask().WaitAsync(Timeout);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal((WebSocketCloseStatus.NormalClosure, "bye", WebSocketState.CloseReceived), (server.CloseStatus, server.CloseStatusDescription, server.State));
        await server.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "ok", default).WaitAsync(Timeout);
        await closing.WaitAsync(Timeout);
        Assert.Equal((WebSocketState.Closed, WebSocketState.Closed), (server.State, client.State));
        Assert.Equal("ok", client.CloseStatusDescription);
    }

    [Theory]
    [InlineData("unmasked", "unmasked frame")]
    [InlineData("reserved bits", "reserved bits")]
    [InlineData("continuation first", "continuation frame outside a message")]
    [InlineData("message inside a message", "new message before the previous one ended")]
    [InlineData("long ping", "over 125 bytes")]
    [InlineData("unknown opcode", "unknown opcode 3")]
    [InlineData("bad close code", "close code 1005")]
    public async Task A_frame_that_breaks_RFC_6455_gets_close_1002_and_fails_the_receive(string what, string expected)
    {
        var (serverStream, wire) = StreamPair.Create();
        using var server = new ServerWebSocket(serverStream, "test");
        byte[] bytes = what switch
        {
            "unmasked" => [0x82, 0x01, 0x00],
            "reserved bits" => ClientFrame(0x42, final: true, [1]),
            "continuation first" => ClientFrame(0x00, final: true, [1]),
            "message inside a message" => [.. ClientFrame(0x02, final: false, [1]), .. ClientFrame(0x02, final: true, [2])],
            "long ping" => ClientFrame(0x09, final: true, new byte[126]),
            "unknown opcode" => ClientFrame(0x03, final: true, [1]),
            _ => ClientFrame(0x08, final: true, [0x03, 0xED]),
        };
        await wire.WriteAsync(bytes);

        var buffer = new byte[16];
        var error = await Assert.ThrowsAsync<WebSocketException>(async () =>
        {
            while (true)
            {
                await server.ReceiveAsync(buffer.AsMemory(), default).AsTask().WaitAsync(Timeout);
            }
        });
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(WebSocketState.Aborted, server.State);
        var close = new byte[4];
        await wire.ReadExactlyAsync(close).AsTask().WaitAsync(Timeout);
        Assert.Equal(0x88, close[0]);
        Assert.Equal(1002, BinaryPrimitives.ReadUInt16BigEndian(close.AsSpan(2)));
    }

    [Fact]
    public async Task A_connection_that_ends_without_a_close_frame_fails_the_receive()
    {
        var (serverStream, wire) = StreamPair.Create();
        using var server = new ServerWebSocket(serverStream, "test");
        await wire.WriteAsync(ClientFrame(0x02, final: true, new byte[10]).AsMemory(0, 8));
        wire.Dispose();

        var buffer = new byte[16];
        var error = await Assert.ThrowsAsync<WebSocketException>(async () =>
        {
            while (true)
            {
                await server.ReceiveAsync(buffer.AsMemory(), default).AsTask().WaitAsync(Timeout);
            }
        });
        Assert.Equal(WebSocketError.ConnectionClosedPrematurely, error.WebSocketErrorCode);
    }

    [Fact]
    public void Unmasking_in_pieces_equals_xoring_each_byte_with_its_key_byte()
    {
        Gen.Select(Gen.Byte.Array[0, 300], Gen.UInt, Gen.Int[0, 300]).Sample((data, mask, split) =>
        {
            var key = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(key, mask);
            var expected = data.Select((b, i) => (byte)(b ^ key[i % 4])).ToArray();
            var actual = data.ToArray();
            var cut = Math.Min(split, actual.Length);
            var index = ServerWebSocket.Unmask(actual.AsSpan(0, cut), mask, 0);
            ServerWebSocket.Unmask(actual.AsSpan(cut), mask, index);
            return expected.AsSpan().SequenceEqual(actual);
        });
    }

    [Fact]
    public async Task QMux_over_it_carries_streams_both_ways()
    {
        var (a, b) = StreamPair.Create();
        var serverSocket = new ServerWebSocket(a, "qmux-01.moq-lite-05");
        var clientSocket = WebSocket.CreateFromStream(b, new WebSocketCreationOptions { IsServer = false });
        var options = new QMuxOptions { IdleTimeout = TimeSpan.Zero };
        var server = QMuxConnection.Start(serverSocket, isServer: true, QMuxVersion.Draft01, "moq-lite-05", options);
        var client = QMuxConnection.Start(clientSocket, isServer: false, QMuxVersion.Draft01, "moq-lite-05", options);
        try
        {
            var payload = Payload(50_000);
            var outgoing = await server.OpenUnidirectionalStreamAsync().AsTask().WaitAsync(Timeout);
            await outgoing.Output!.WriteAsync(payload);
            await outgoing.Output!.CompleteAsync();
            var incoming = await client.AcceptStreamAsync().AsTask().WaitAsync(Timeout);
            Assert.Equal(payload, await ReadToEndAsync(incoming));

            var upstream = await client.OpenUnidirectionalStreamAsync().AsTask().WaitAsync(Timeout);
            await upstream.Output!.WriteAsync("up"u8.ToArray());
            await upstream.Output!.CompleteAsync();
            var received = await server.AcceptStreamAsync().AsTask().WaitAsync(Timeout);
            Assert.Equal("up"u8.ToArray(), await ReadToEndAsync(received));
        }
        finally
        {
            await client.CloseAsync(0, "done");
            await server.Closed.WaitAsync(Timeout);
        }
    }

    private static (ServerWebSocket Server, WebSocket Client) Connect()
    {
        var (a, b) = StreamPair.Create();
        return (new ServerWebSocket(a, "test"), WebSocket.CreateFromStream(b, new WebSocketCreationOptions { IsServer = false }));
    }

    private static byte[] Payload(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 7 + 3)).ToArray();

    /// <summary>A client frame as on the wire: masked with a fixed key, 7-bit length.</summary>
    private static byte[] ClientFrame(byte opcode, bool final, byte[] payload)
    {
        byte[] key = [0x11, 0x22, 0x33, 0x44];
        var frame = new List<byte> { (byte)((final ? 0x80 : 0) | opcode), (byte)(0x80 | payload.Length) };
        frame.AddRange(key);
        frame.AddRange(payload.Select((b, i) => (byte)(b ^ key[i % 4])));
        return [.. frame];
    }

    private static async Task<byte[]> ReceiveMessageAsync(WebSocket socket)
    {
        var message = new MemoryStream();
        var buffer = new byte[4096];
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer.AsMemory(), default).AsTask().WaitAsync(Timeout);
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);
        return message.ToArray();
    }

    private static async Task<byte[]> ReadToEndAsync(MoqLite.Transport.MoqTransportStream stream)
    {
        var input = stream.Input!;
        while (true)
        {
            var result = await input.ReadAsync().AsTask().WaitAsync(Timeout);
            if (result.IsCompleted)
            {
                var bytes = result.Buffer.ToArray();
                input.AdvanceTo(result.Buffer.End);
                return bytes;
            }
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
