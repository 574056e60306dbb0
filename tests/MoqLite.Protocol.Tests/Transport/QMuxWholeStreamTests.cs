using System.Buffers;
using MoqLite.Protocol.Tests.Sessions;
using MoqLite.Transport;
using MoqLite.Transport.QMux;

namespace MoqLite.Protocol.Tests.Transport;

/// <summary>
/// A peer unidirectional stream whose first STREAM frame carries all of it goes to the connection's whole-stream
/// handler instead of being accepted; a stream in pieces, or one the handler declines, is accepted as any other, and
/// streams taken whole still give the peer its stream and data credit back.
/// </summary>
public class QMuxWholeStreamTests
{
    // The test is the client, so its unidirectional streams are 2, 6, 10…
    private const long PeerUni = 2;

    private static readonly QMuxTransportParameters Grant = new() { InitialMaxStreamsUni = 8, InitialMaxStreamDataUni = 1 << 20, InitialMaxData = 1 << 22 };

    [Fact]
    public async Task A_stream_that_arrives_whole_goes_to_the_handler_and_is_never_accepted()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, Grant);
        var taken = new List<byte[]>();
        link.Connection.WholeStreamReceived = data =>
        {
            taken.Add(data.ToArray());
            return true;
        };

        await RawQMuxPeer.SendStreamAsync(link.Peer, PeerUni, 0, "whole"u8.ToArray(), fin: true);
        await RawQMuxPeer.SendStreamAsync(link.Peer, PeerUni + 4, 0, "in "u8.ToArray());
        await RawQMuxPeer.SendStreamAsync(link.Peer, PeerUni + 4, 3, "pieces"u8.ToArray(), fin: true);

        // Messages are handled in order, so the first stream accepted is the one that came in pieces.
        var accepted = await AcceptAsync(link);
        Assert.Equal(PeerUni + 4, accepted.Id);
        Assert.Equal("in pieces"u8.ToArray(), await ReadToEndAsync(accepted));
        Assert.Equal(["whole"u8.ToArray()], taken);
    }

    [Fact]
    public async Task Streams_that_arrive_before_lower_ones_they_open_leave_those_to_be_taken_whole_too()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, Grant);
        var taken = new List<byte[]>();
        link.Connection.WholeStreamReceived = data =>
        {
            taken.Add(data.ToArray());
            return true;
        };

        // The third stream first, as a relay sends the newest group first: it opens the first two implicitly.
        await RawQMuxPeer.SendStreamAsync(link.Peer, PeerUni + 8, 0, "third"u8.ToArray(), fin: true);
        await RawQMuxPeer.SendStreamAsync(link.Peer, PeerUni, 0, "first"u8.ToArray(), fin: true);
        await RawQMuxPeer.SendStreamAsync(link.Peer, PeerUni + 4, 0, "second, "u8.ToArray());
        await RawQMuxPeer.SendStreamAsync(link.Peer, PeerUni + 4, 8, "in pieces"u8.ToArray(), fin: true);

        var accepted = await AcceptAsync(link);
        Assert.Equal(PeerUni + 4, accepted.Id);
        Assert.Equal("second, in pieces"u8.ToArray(), await ReadToEndAsync(accepted));
        Assert.Equal(["third"u8.ToArray(), "first"u8.ToArray()], taken);
    }

    [Fact]
    public async Task A_stream_the_handler_declines_is_accepted_with_all_its_bytes()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, Grant);
        var offered = 0;
        link.Connection.WholeStreamReceived = _ =>
        {
            offered++;
            return false;
        };

        await RawQMuxPeer.SendStreamAsync(link.Peer, PeerUni, 0, "declined"u8.ToArray(), fin: true);

        var accepted = await AcceptAsync(link);
        Assert.Equal(PeerUni, accepted.Id);
        Assert.Equal("declined"u8.ToArray(), await ReadToEndAsync(accepted));
        Assert.Equal(1, offered);
    }

    [Fact]
    public async Task Streams_taken_whole_give_the_peer_its_stream_and_data_credit_back()
    {
        // Twelve streams of 300 bytes against a limit of four streams and 1000 bytes: without credit given back
        // for each, the fifth stream, or the fourth kilobyte, breaks a limit and the connection fails.
        var options = new QMuxOptions { IdleTimeout = TimeSpan.Zero, MaxConcurrentStreams = 4, ReceiveWindow = 1000, StreamReceiveWindow = 1000 };
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, Grant, options);
        var taken = 0;
        link.Connection.WholeStreamReceived = data =>
        {
            Assert.Equal(300, data.Length);
            taken++;
            return true;
        };

        for (var i = 0; i < 12; i++)
        {
            await RawQMuxPeer.SendStreamAsync(link.Peer, PeerUni + 4 * i, 0, new byte[300], fin: true);
        }
        await RawQMuxPeer.SendStreamAsync(link.Peer, PeerUni + 4 * 12, 0, "last"u8.ToArray());

        var accepted = await AcceptAsync(link);
        Assert.Equal(PeerUni + 4 * 12, accepted.Id);
        Assert.Equal(12, taken);
        Assert.False(link.Connection.Closed.IsCompleted);
    }

    private static async Task<MoqTransportStream> AcceptAsync(RawQMuxPeer.Link link) =>
        await link.Connection.AcceptStreamAsync().AsTask().WaitAsync(SessionPair.Timeout);

    private static async Task<byte[]> ReadToEndAsync(MoqTransportStream stream)
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
}
