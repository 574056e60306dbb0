using System.Buffers;
using System.Net.WebSockets;
using MoqLite.Coding;
using MoqLite.Protocol.Tests.Sessions;
using MoqLite.Transport;
using MoqLite.Transport.QMux;

namespace MoqLite.Protocol.Tests.Transport;

/// <summary>The test as a QMux peer on the far end of a WebSocket: grants credit by hand and reads STREAM frames off the wire.</summary>
internal static class RawQMuxPeer
{
    /// <summary>The test's first unidirectional stream: the test is the client, so 2, then 6, 10…</summary>
    public const long FirstUni = 2;

    /// <summary>Credit that no test here runs out of: 8 unidirectional streams, 1 MiB each, 4 MiB in all.</summary>
    public static readonly QMuxTransportParameters Plenty = new() { InitialMaxStreamsUni = 8, InitialMaxStreamDataUni = 1 << 20, InitialMaxData = 1 << 22 };

    /// <summary>One STREAM frame as it arrived, in the <paramref name="Message"/>-th WebSocket message read.</summary>
    public sealed record StreamFrame(long Id, byte[] Data, bool Fin, int Message);

    /// <summary>
    /// A QMux connection on one end of an in-process WebSocket pair, with the test on the other end having sent
    /// <paramref name="grant"/> as its transport parameters. Disposing closes the connection, then the sockets.
    /// </summary>
    public static async Task<Link> ConnectAsync(QMuxVersion draft, QMuxTransportParameters grant, QMuxOptions? options = null)
    {
        var (a, b) = StreamPair.Create();
        var serverSocket = WebSocket.CreateFromStream(a, new WebSocketCreationOptions { IsServer = true });
        var peer = WebSocket.CreateFromStream(b, new WebSocketCreationOptions { IsServer = false });
        var connection = QMuxConnection.Start(serverSocket, isServer: true, draft, "moq-lite-05", options ?? new QMuxOptions { IdleTimeout = TimeSpan.Zero });
        var link = new Link(connection, peer, serverSocket);
        var parameters = new ArrayBufferWriter<byte>();
        grant.WriteFrame(parameters, draft);
        await peer.SendAsync(parameters.WrittenMemory, WebSocketMessageType.Binary, true, default);
        return link;
    }

    public static Task SendMaxDataAsync(WebSocket peer, ulong maxData) => SendFrameAsync(peer, QMuxFrameType.MaxData, maxData);

    /// <summary>Sends one frame made of varint fields, its type first.</summary>
    public static async Task SendFrameAsync(WebSocket peer, params ulong[] fields)
    {
        var frame = new byte[8 * fields.Length];
        var n = 0;
        foreach (var field in fields)
        {
            n += VarInt.Write(frame.AsSpan(n), field);
        }
        await peer.SendAsync(frame.AsMemory(0, n), WebSocketMessageType.Binary, true, default);
    }

    /// <summary>Sends one STREAM frame carrying <paramref name="data"/> at <paramref name="offset"/> of stream <paramref name="id"/>.</summary>
    public static async Task SendStreamAsync(WebSocket peer, long id, ulong offset, ReadOnlyMemory<byte> data, bool fin = false)
    {
        var frame = new byte[32 + data.Length];
        var n = VarInt.Write(frame, QMuxFrameType.StreamBase | QMuxFrameType.Off | QMuxFrameType.Len | (fin ? QMuxFrameType.Fin : 0));
        n += VarInt.Write(frame.AsSpan(n), (ulong)id);
        n += VarInt.Write(frame.AsSpan(n), offset);
        n += VarInt.Write(frame.AsSpan(n), (ulong)data.Length);
        data.Span.CopyTo(frame.AsSpan(n));
        await peer.SendAsync(frame.AsMemory(0, n + data.Length), WebSocketMessageType.Binary, true, default);
    }

    /// <summary>Reads messages until <paramref name="done"/> holds for the STREAM frames seen so far; other frames are skipped.</summary>
    public static async Task<List<StreamFrame>> ReadStreamFramesAsync(WebSocket peer, Func<List<StreamFrame>, bool> done)
    {
        var frames = new List<StreamFrame>();
        var buffer = new byte[1 << 17];
        var message = 0;
        while (!done(frames))
        {
            message++;
            var length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await peer.ReceiveAsync(buffer.AsMemory(length), default);
                length += result.Count;
            }
            while (!result.EndOfMessage);
            var span = new ReadOnlySpan<byte>(buffer, 0, length);
            while (!span.IsEmpty)
            {
                var type = Take(ref span);
                if (type == QMuxFrameType.TransportParameters)
                {
                    span = span[(int)Take(ref span)..];
                }
                else if (type is >= QMuxFrameType.StreamBase and <= QMuxFrameType.StreamMax)
                {
                    var id = (long)Take(ref span);
                    if ((type & QMuxFrameType.Off) != 0)
                    {
                        Take(ref span);
                    }
                    var size = (type & QMuxFrameType.Len) != 0 ? (int)Take(ref span) : span.Length;
                    frames.Add(new StreamFrame(id, span[..size].ToArray(), (type & QMuxFrameType.Fin) != 0, message));
                    span = span[size..];
                }
                else
                {
                    Assert.Fail($"unexpected frame type 0x{type:x}");
                }
            }
        }
        return frames;
    }

    /// <summary>Reads a stream's bytes up to its end.</summary>
    public static async Task<byte[]> ReadToEndAsync(MoqTransportStream stream)
    {
        var input = stream.Input!;
        while (true)
        {
            var result = await input.ReadAsync().AsTask().WaitAsync(SessionPair.Timeout);
            if (result.IsCompleted)
            {
                var bytes = result.Buffer.ToArray();
                input.AdvanceTo(result.Buffer.End);
                return bytes;
            }
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>Reads one varint off the front of <paramref name="span"/>.</summary>
    public static ulong Take(ref ReadOnlySpan<byte> span)
    {
        Assert.True(VarInt.TryRead(span, out var value, out var size));
        span = span[size..];
        return value;
    }

    /// <summary>The connection under test and the socket the test speaks on.</summary>
    public sealed class Link(QMuxConnection connection, WebSocket peer, WebSocket serverSocket) : IAsyncDisposable
    {
        public QMuxConnection Connection => connection;

        public WebSocket Peer => peer;

        /// <summary>The next stream the peer opened, as the connection hands it over.</summary>
        public async Task<MoqTransportStream> AcceptAsync() => await connection.AcceptStreamAsync().AsTask().WaitAsync(SessionPair.Timeout);

        public async ValueTask DisposeAsync()
        {
            await connection.CloseAsync(0, "done");
            serverSocket.Dispose();
            peer.Dispose();
        }
    }
}
