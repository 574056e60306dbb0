using System.Net.WebSockets;
using MoqLite.Protocol.Tests.Sessions;
using MoqLite.Transport.QMux;

namespace MoqLite.Protocol.Tests.Transport;

/// <summary>
/// Keep-alive on the wire: a silent peer is timed out with the timeout code, a connection with nothing to send pings,
/// and a peer that answers stays connected past the idle timeout. Connections of one period share one timer.
/// </summary>
public class QMuxKeepAliveTests
{
    [Fact]
    public async Task A_silent_peer_is_closed_after_the_idle_timeout_with_the_timeout_code()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty, new QMuxOptions { IdleTimeout = TimeSpan.FromMilliseconds(300) });

        var closed = await link.Connection.Closed.WaitAsync(SessionPair.Timeout);

        Assert.Equal(((ulong)MoqErrorCode.Timeout, "idle timeout", false), (closed.Code, closed.Reason, closed.ClosedByPeer));
    }

    [Fact]
    public async Task A_connection_with_nothing_to_send_pings_and_a_peer_that_answers_stays_connected_past_the_idle_timeout()
    {
        // A ping about every second; 2 s leaves room for the test host's busy thread pool to hold one back half a second.
        var idle = TimeSpan.FromSeconds(2);
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty, new QMuxOptions { IdleTimeout = idle });
        var started = TimeProvider.System.GetTimestamp();

        // Each PING is answered, and the answer is all the connection hears from us.
        var pings = new List<ulong>();
        while (TimeProvider.System.GetElapsedTime(started) < 1.5 * idle)
        {
            var sequence = await ReadPingAsync(link.Peer).WaitAsync(SessionPair.Timeout);
            pings.Add(sequence);
            await RawQMuxPeer.SendFrameAsync(link.Peer, QMuxFrameType.PingResponse, sequence);
        }

        Assert.False(link.Connection.Closed.IsCompleted, "closed although the peer answered every ping");
        Assert.Equal(Enumerable.Range(1, pings.Count).Select(i => (ulong)i), pings);
    }

    [Fact]
    public async Task Connections_with_the_same_period_share_one_timer_which_stops_with_the_last()
    {
        // 1,234 ms ticks every 205 ms, a period no other test uses.
        var options = new QMuxOptions { IdleTimeout = TimeSpan.FromMilliseconds(1234) };
        const long Period = 205;
        var links = new List<RawQMuxPeer.Link>();
        for (var i = 0; i < 3; i++)
        {
            links.Add(await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty, options));
        }
        Assert.Equal(3, QMuxKeepAlive.ConnectionCount(Period));

        await links[0].DisposeAsync();
        Assert.Equal(2, QMuxKeepAlive.ConnectionCount(Period));
        foreach (var link in links.Skip(1))
        {
            await link.DisposeAsync();
        }

        Assert.Equal(0, QMuxKeepAlive.ConnectionCount(Period));
    }

    /// <summary>Reads messages until a PING request arrives (skipping transport parameters); returns its sequence number.</summary>
    private static async Task<ulong> ReadPingAsync(WebSocket peer)
    {
        var buffer = new byte[1 << 16];
        while (true)
        {
            var result = await peer.ReceiveAsync(buffer.AsMemory(), default);
            Assert.True(result.EndOfMessage);
            var span = new ReadOnlySpan<byte>(buffer, 0, result.Count);
            while (!span.IsEmpty)
            {
                var type = RawQMuxPeer.Take(ref span);
                if (type == QMuxFrameType.PingRequest)
                {
                    return RawQMuxPeer.Take(ref span);
                }
                Assert.Equal(QMuxFrameType.TransportParameters, type);
                span = span[(int)RawQMuxPeer.Take(ref span)..];
            }
        }
    }
}
