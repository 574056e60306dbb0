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
    [Fact]
    public async Task A_stream_that_arrives_whole_goes_to_the_handler_and_is_never_accepted()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty);
        var taken = TakeWhole(link);

        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni, 0, "whole"u8.ToArray(), fin: true);
        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni + 4, 0, "in "u8.ToArray());
        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni + 4, 3, "pieces"u8.ToArray(), fin: true);

        // Messages are handled in order, so the first stream accepted is the one that came in pieces.
        var accepted = await link.AcceptAsync();
        Assert.Equal(RawQMuxPeer.FirstUni + 4, accepted.Id);
        Assert.Equal("in pieces"u8.ToArray(), await RawQMuxPeer.ReadToEndAsync(accepted));
        Assert.Equal(["whole"u8.ToArray()], taken);
    }

    [Fact]
    public async Task Streams_that_arrive_before_lower_ones_they_open_leave_those_to_be_taken_whole_too()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty);
        var taken = TakeWhole(link);

        // The third stream first, as a relay sends the newest group first: it opens the first two implicitly.
        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni + 8, 0, "third"u8.ToArray(), fin: true);
        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni, 0, "first"u8.ToArray(), fin: true);
        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni + 4, 0, "second, "u8.ToArray());
        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni + 4, 8, "in pieces"u8.ToArray(), fin: true);

        var accepted = await link.AcceptAsync();
        Assert.Equal(RawQMuxPeer.FirstUni + 4, accepted.Id);
        Assert.Equal("second, in pieces"u8.ToArray(), await RawQMuxPeer.ReadToEndAsync(accepted));
        Assert.Equal(["third"u8.ToArray(), "first"u8.ToArray()], taken);
    }

    [Fact]
    public async Task A_stream_the_handler_declines_is_accepted_with_all_its_bytes()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty);
        var offered = 0;
        link.Connection.WholeStreamReceived = (_, _) =>
        {
            offered++;
            return false;
        };

        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni, 0, "declined"u8.ToArray(), fin: true);

        var accepted = await link.AcceptAsync();
        Assert.Equal(RawQMuxPeer.FirstUni, accepted.Id);
        Assert.Equal("declined"u8.ToArray(), await RawQMuxPeer.ReadToEndAsync(accepted));
        Assert.Equal(1, offered);
    }

    [Fact]
    public async Task Streams_taken_whole_give_the_peer_its_stream_and_data_credit_back()
    {
        // Twelve streams of 300 bytes against a limit of four streams and 1000 bytes: without credit given back
        // for each, the fifth stream, or the fourth kilobyte, breaks a limit and the connection fails.
        var options = new QMuxOptions { IdleTimeout = TimeSpan.Zero, MaxConcurrentStreams = 4, ReceiveWindow = 1000, StreamReceiveWindow = 1000 };
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty, options);
        var taken = TakeWhole(link);

        for (var i = 0; i < 12; i++)
        {
            await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni + 4 * i, 0, new byte[300], fin: true);
        }
        await RawQMuxPeer.SendStreamAsync(link.Peer, RawQMuxPeer.FirstUni + 4 * 12, 0, "last"u8.ToArray());

        var accepted = await link.AcceptAsync();
        Assert.Equal(RawQMuxPeer.FirstUni + 4 * 12, accepted.Id);
        Assert.Equal(12, taken.Count);
        Assert.All(taken, data => Assert.Equal(300, data.Length));
        Assert.False(link.Connection.Closed.IsCompleted);
    }

    /// <summary>Has the connection take every stream that arrives whole, keeping a copy of each one's bytes.</summary>
    private static List<byte[]> TakeWhole(RawQMuxPeer.Link link)
    {
        var taken = new List<byte[]>();
        link.Connection.WholeStreamReceived = (data, _) =>
        {
            taken.Add(data.ToArray());
            return true;
        };
        return taken;
    }
}
