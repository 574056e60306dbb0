using MoqLite.Lite;
using MoqLite.Protocol.Tests.Sessions;
using MoqLite.Transport.QMux;

namespace MoqLite.Protocol.Tests.Transport;

/// <summary>
/// Priority scheduling, observed on the wire: the test is the QMux peer, withholds connection credit until both
/// streams have data queued, then grants just enough for both and reads which stream's bytes come first.
/// </summary>
public class QMuxSchedulingTests
{
    [Theory]
    [InlineData(QMuxVersion.Draft00)]
    [InlineData(QMuxVersion.Draft01)]
    [InlineData(QMuxVersion.Draft02)]
    public async Task Higher_priority_stream_gets_the_bytes_first_when_credit_is_short(QMuxVersion draft)
    {
        var grant = new QMuxTransportParameters { InitialMaxStreamsUni = 4, InitialMaxStreamDataUni = 1 << 20, InitialMaxData = 0 };
        await using var link = await RawQMuxPeer.ConnectAsync(draft, grant);

        const int Size = 3000;
        var low = await link.Connection.OpenUnidirectionalStreamAsync().AsTask().WaitAsync(SessionPair.Timeout);
        low.SendPriority = LiteSession.GroupSendPriority(priority: 1, ordered: false, sequence: 7);
        await low.Output!.WriteAsync(new byte[Size]);
        var high = await link.Connection.OpenUnidirectionalStreamAsync().AsTask().WaitAsync(SessionPair.Timeout);
        high.SendPriority = LiteSession.GroupSendPriority(priority: 2, ordered: false, sequence: 0);
        await high.Output!.WriteAsync(new byte[Size]);

        await RawQMuxPeer.SendMaxDataAsync(link.Peer, 2 * Size);

        var order = (await RawQMuxPeer.ReadStreamFramesAsync(link.Peer, frames => frames.Sum(f => f.Data.Length) >= 2 * Size).WaitAsync(SessionPair.Timeout))
            .Where(f => f.Data.Length > 0).Select(f => (f.Id, f.Data.Length)).ToList();
        var firstLow = order.FindIndex(chunk => chunk.Id == low.Id);
        var lastHigh = order.FindLastIndex(chunk => chunk.Id == high.Id);
        Assert.True(lastHigh < firstLow, $"order on the wire: {string.Join(", ", order)}");
        Assert.Equal(Size, order.Where(c => c.Id == high.Id).Sum(c => c.Item2));
    }

    [Fact]
    public void Send_priority_ranks_track_priority_then_group_age()
    {
        // A higher track priority wins whatever the sequence.
        Assert.True(LiteSession.GroupSendPriority(2, false, 0) > LiteSession.GroupSendPriority(1, false, 1000));
        Assert.True(LiteSession.GroupSendPriority(2, true, 1000) > LiteSession.GroupSendPriority(1, true, 0));
        // Unordered: the newest group first. Ordered: the oldest first.
        Assert.True(LiteSession.GroupSendPriority(1, false, 5) > LiteSession.GroupSendPriority(1, false, 4));
        Assert.True(LiteSession.GroupSendPriority(1, true, 4) > LiteSession.GroupSendPriority(1, true, 5));
    }
}
