using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;
using MoqLite.Protocol.Tests.Sessions;
using MoqLite.Transport;
using MoqLite.Transport.QMux;

namespace MoqLite.Protocol.Tests.Transport;

/// <summary>
/// The receive half of a QMux stream, fed from the wire: bytes read as one contiguous span however they arrived,
/// the PipeReader contract (examined bytes wait for more, a read's view stays valid until it advances), and how a
/// reset or a cancelled read ends a read.
/// </summary>
public class QMuxReceiveTests
{
    [Fact]
    public async Task Bytes_examined_but_not_consumed_wait_for_more_and_then_read_as_one_span()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty);
        var input = await OpenAsync(link);

        var first = await ReadAsync(input);
        Assert.Equal("abc"u8.ToArray(), first.Buffer.ToArray());
        input.AdvanceTo(first.Buffer.Start, first.Buffer.End);
        var next = input.ReadAsync();
        Assert.False(next.IsCompleted, "everything was examined: the next read waits for new bytes");

        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni, 3, "def"u8.ToArray(), fin: true);
        var second = await next.AsTask().WaitAsync(SessionPair.Timeout);
        Assert.True(second.Buffer.IsSingleSegment);
        Assert.Equal("abcdef"u8.ToArray(), second.Buffer.ToArray());
        Assert.True(second.IsCompleted);
        input.AdvanceTo(second.Buffer.End);
    }

    [Fact]
    public async Task A_reads_view_stays_intact_while_more_bytes_than_the_buffer_holds_arrive()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty);
        var input = await OpenAsync(link);
        var held = await ReadAsync(input);

        var large = new byte[12_000];
        Random.Shared.NextBytes(large);
        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni, 3, large);
        // Messages are processed in order: once a later stream is accepted, the large piece has landed.
        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni + 4, 0, "x"u8.ToArray());
        await link.AcceptAsync();

        Assert.Equal("abc"u8.ToArray(), held.Buffer.ToArray());
        input.AdvanceTo(held.Buffer.GetPosition(1));
        var rest = await ReadAsync(input);
        Assert.True(rest.Buffer.IsSingleSegment);
        Assert.Equal([.. "bc"u8.ToArray(), .. large], rest.Buffer.ToArray());
        input.AdvanceTo(rest.Buffer.End);
    }

    [Fact]
    public async Task A_reset_fails_the_waiting_read_with_the_peers_code()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty);
        var input = await OpenAsync(link);
        await ConsumeAsync(input);
        var waiting = input.ReadAsync().AsTask();

        await RawQMuxPeer.SendFrameAsync(link.Peer, QMuxFrameType.ResetStream, RawQMuxPeer.FirstUni, 0x17, 3);
        var error = await Assert.ThrowsAsync<MoqStreamAbortedException>(() => waiting.WaitAsync(SessionPair.Timeout));
        Assert.Equal(0x17ul, error.WireCode);
    }

    [Fact]
    public async Task A_cancelled_read_ends_only_that_read()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty);
        var input = await OpenAsync(link);
        await ConsumeAsync(input);

        using var cancel = new CancellationTokenSource();
        var waiting = input.ReadAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(SessionPair.Timeout));

        var pending = input.ReadAsync();
        input.CancelPendingRead();
        var canceled = await pending.AsTask().WaitAsync(SessionPair.Timeout);
        Assert.True(canceled.IsCanceled);
        input.AdvanceTo(canceled.Buffer.End);

        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni, 3, "d"u8.ToArray(), fin: true);
        var last = await ReadAsync(input);
        Assert.Equal("d"u8.ToArray(), last.Buffer.ToArray());
        Assert.True(last.IsCompleted);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Bytes_arrive_whole_and_in_order_however_they_are_split_and_read(int seed)
    {
        var random = new Random(seed);
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty);
        for (var stream = 0; stream < 8; stream++)
        {
            var id = RawQMuxPeer.FirstUni + 4L * stream;
            var payload = new byte[random.Next(1, 40_000)];
            random.NextBytes(payload);
            var pieces = new List<(int Offset, int Length)>();
            for (var offset = 0; offset < payload.Length;)
            {
                var length = Math.Min(random.Next(1, 6000), payload.Length - offset);
                pieces.Add((offset, length));
                offset += length;
            }
            await RawQMuxPeer.SendStreamAsync(link.Peer, id, 0, payload.AsMemory(0, pieces[0].Length), fin: pieces.Count == 1);
            var input = (await link.AcceptAsync()).Input!;
            var sending = Task.Run(async () =>
            {
                for (var i = 1; i < pieces.Count; i++)
                {
                    var (offset, length) = pieces[i];
                    await RawQMuxPeer.SendStreamAsync(link.Peer, id, (ulong)offset, payload.AsMemory(offset, length), fin: i == pieces.Count - 1);
                }
            });

            // The reader consumes all, a part, or nothing (having looked at everything), at random.
            var received = new List<byte>();
            var choices = new Random(seed * 100 + stream);
            while (true)
            {
                var result = await ReadAsync(input);
                var buffer = result.Buffer;
                var choice = result.IsCompleted ? 0 : choices.Next(3);
                var take = choice switch { 0 => buffer.Length, 1 => choices.NextInt64(0, buffer.Length + 1), _ => 0 };
                received.AddRange(buffer.Slice(0, take).ToArray());
                input.AdvanceTo(buffer.GetPosition(take), buffer.End);
                if (result.IsCompleted && take == buffer.Length)
                {
                    break;
                }
            }
            await sending.WaitAsync(SessionPair.Timeout);
            Assert.Equal(payload, received);
        }
    }

    [Fact]
    public async Task A_peer_that_keeps_the_socket_full_does_not_keep_the_receive_loop_on_one_thread()
    {
        // Every read completes at once, as on a socket the peer never lets drain. Start runs the receive loop
        // until its first receive that has to wait: it returns only if the loop gives its thread back by itself.
        var parameters = new ArrayBufferWriter<byte>();
        RawQMuxPeer.Plenty.WriteFrame(parameters, QMuxVersion.Draft01);
        var padding = new byte[64];
        const int Messages = 5_000;
        await using var wire = await EndlessMessages.CreateAsync(parameters.WrittenSpan.ToArray(), padding, signalAfter: Messages);
        var socket = WebSocket.CreateFromStream(wire, new WebSocketCreationOptions { IsServer = true });

        var connection = await Task.Run(() => QMuxConnection.Start(socket, isServer: true, QMuxVersion.Draft01, "moq-lite-05", new QMuxOptions { IdleTimeout = TimeSpan.Zero }))
            .WaitAsync(SessionPair.Timeout);

        // And it goes on reading from wherever it resumed.
        await wire.Reached.WaitAsync(SessionPair.Timeout);
        Assert.False(connection.Closed.IsCompleted, "PADDING-only messages are valid: the connection stays up");
        await connection.CloseAsync(0, "done").AsTask().WaitAsync(SessionPair.Timeout);
    }

    /// <summary>The peer opens its first stream with "abc"; the stream as accepted, to read.</summary>
    [Fact]
    public async Task A_message_as_large_as_our_record_size_arrives_whole_and_a_larger_one_fails_the_connection()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty, new QMuxOptions { IdleTimeout = TimeSpan.Zero, MaxRecordSize = 40_000 });
        var large = new byte[39_000];
        Random.Shared.NextBytes(large);

        // Larger than the receive buffer starts at: it grows to take the message.
        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni, 0, large, fin: true);
        Assert.Equal(large, await RawQMuxPeer.ReadToEndAsync(await link.AcceptAsync()));

        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni + 4, 0, new byte[40_000], fin: true);
        var closed = await link.Connection.Closed.WaitAsync(SessionPair.Timeout);
        Assert.Equal((ulong)MoqErrorCode.ProtocolViolation, closed.Code);
    }

    private static async Task<PipeReader> OpenAsync(RawQMuxPeer.Link link)
    {
        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni, 0, "abc"u8.ToArray());
        return (await link.AcceptAsync()).Input!;
    }

    private static async Task ConsumeAsync(PipeReader input)
    {
        var result = await ReadAsync(input);
        input.AdvanceTo(result.Buffer.End);
    }

    private static Task<ReadResult> ReadAsync(PipeReader input) => input.ReadAsync().AsTask().WaitAsync(SessionPair.Timeout);
}
