using System.Buffers.Binary;
using System.Net;
using System.Net.WebSockets;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using MoqLite.Client;

namespace MoqLite.AspNetCore.Tests.Interop;

/// <summary>
/// The endpoint's own WebSocket on a real Kestrel: the handshake as RFC 6455 spells it, the framework's client
/// WebSocket as a peer, and a client that breaks the framing. (TestServer has no upgradable connection, so the
/// other endpoint tests run on the framework's socket.)
/// </summary>
public class KestrelWebSocketTests
{
    private static readonly TimeSpan Timeout = TestServerClients.Timeout;

    [Fact]
    public async Task The_dotnet_client_gets_the_clock_through_our_socket()
    {
        await using var server = await LoopbackServer.StartAsync();
        await using var session = await MoqClient.ConnectAsync(server.Uri).WaitAsync(Timeout);
        Assert.Equal("moq-lite-05", session.Protocol);
        await AssertClockTicksAsync(session);
    }

    [Fact]
    public async Task A_WebSocket_over_HTTP2_extended_CONNECT_carries_a_session()
    {
        await using var server = await LoopbackServer.StartAsync(protocols: HttpProtocols.Http2);
        using var handler = new SocketsHttpHandler();
        using var invoker = new HttpMessageInvoker(handler);
        var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.AddSubProtocol("qmux-01.moq-lite-05");
        socket.Options.CollectHttpResponseDetails = true;
        await socket.ConnectAsync(new UriBuilder(server.Uri) { Scheme = "ws" }.Uri, invoker, CancellationToken.None).WaitAsync(Timeout);
        // 200, not 101: the session runs on an HTTP/2 stream (RFC 8441).
        Assert.Equal((HttpStatusCode.OK, "qmux-01.moq-lite-05"), (socket.HttpStatusCode, socket.SubProtocol));

        await using var session = MoqClient.Start(socket);
        await AssertClockTicksAsync(session);
    }

    [Fact]
    public async Task The_handshake_answers_with_the_RFC_accept_key_and_a_bad_frame_gets_close_1002()
    {
        await using var server = await LoopbackServer.StartAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Uri.Host, server.Uri.Port).WaitAsync(Timeout);
        var wire = tcp.GetStream();
        // The key and accept value are the example in RFC 6455 section 1.3.
        var request = $"GET {server.Uri.AbsolutePath} HTTP/1.1\r\nHost: {server.Uri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: qmux-01.moq-lite-05\r\n\r\n";
        await wire.WriteAsync(Encoding.ASCII.GetBytes(request)).AsTask().WaitAsync(Timeout);

        var head = await ReadHeadAsync(wire);
        Assert.StartsWith("HTTP/1.1 101", head, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Sec-WebSocket-Protocol: qmux-01.moq-lite-05", head, StringComparison.OrdinalIgnoreCase);

        // An unmasked binary frame: a client must mask every frame.
        await wire.WriteAsync(new byte[] { 0x82, 0x01, 0x00 }).AsTask().WaitAsync(Timeout);
        var status = await ReadCloseStatusAsync(wire);
        Assert.Equal(1002, status);
    }

    private static async Task AssertClockTicksAsync(MoqLite.Session.MoqSession session)
    {
        var track = await session.Consume("clock").GetTrackAsync("seconds").AsTask().WaitAsync(Timeout);
        Assert.NotNull(track);
        using var subscription = track.Subscribe();
        using var group = await subscription.NextGroupAsync().AsTask().WaitAsync(Timeout);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", await group!.ReadTextFrameAsync());
    }

    /// <summary>The response head, up to the blank line.</summary>
    private static async Task<string> ReadHeadAsync(NetworkStream wire)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || head[^4] != '\r' || head[^3] != '\n' || head[^2] != '\r' || head[^1] != '\n')
        {
            await wire.ReadExactlyAsync(one).AsTask().WaitAsync(Timeout);
            head.Add(one[0]);
        }
        return Encoding.ASCII.GetString([.. head]);
    }

    /// <summary>Skips the server's frames (QMux's transport parameters come first) until its close frame; returns the close code.</summary>
    private static async Task<int> ReadCloseStatusAsync(NetworkStream wire)
    {
        var header = new byte[2];
        while (true)
        {
            await wire.ReadExactlyAsync(header).AsTask().WaitAsync(Timeout);
            long length = header[1] & 0x7F;
            if (length >= 126)
            {
                var extended = new byte[length == 126 ? 2 : 8];
                await wire.ReadExactlyAsync(extended).AsTask().WaitAsync(Timeout);
                length = extended.Length == 2 ? BinaryPrimitives.ReadUInt16BigEndian(extended) : (long)BinaryPrimitives.ReadUInt64BigEndian(extended);
            }
            var payload = new byte[length];
            await wire.ReadExactlyAsync(payload).AsTask().WaitAsync(Timeout);
            if ((header[0] & 0x0F) == 0x8)
            {
                return BinaryPrimitives.ReadUInt16BigEndian(payload);
            }
        }
    }
}
