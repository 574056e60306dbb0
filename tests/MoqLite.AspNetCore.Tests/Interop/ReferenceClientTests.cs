using System.Security.Cryptography;
using MoqLite.AspNetCore.Authorization;
using MoqLite.Model;

namespace MoqLite.AspNetCore.Tests.Interop;

/// <summary>The reference client, @moq/net 0.3.4 under Node, against MapMoqLite on a real Kestrel.</summary>
public class ReferenceClientTests
{
    [Theory]
    [InlineData("qmux-01.moq-lite-05")]
    [InlineData("qmux-00.moq-lite-05")]
    [InlineData("qmux-02.moq-lite-05")]
    public async Task Our_DI_clock_reaches_a_reference_subscriber_on_each_qmux_draft(string subprotocol)
    {
        await using var server = await LoopbackServer.StartAsync(options =>
        {
            options.WebSocketSubprotocols.Clear();
            options.WebSocketSubprotocols.Add(subprotocol);
        });
        var result = await NodeHarness.RunScenarioAsync("clock", server.Uri.ToString());
        Assert.Equal("moq-lite-05", result.GetProperty("version").GetString());
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", result.GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_reference_publisher_reaches_a_reference_subscriber_through_our_relay()
    {
        await using var server = await LoopbackServer.StartAsync();
        var result = await NodeHarness.RunScenarioAsync("relay", server.Uri.ToString());
        Assert.Contains("alice", result.GetProperty("announced").EnumerateArray().Select(e => e.GetString()));
        Assert.StartsWith("hello-", result.GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_code_reads_a_reference_publisher_through_the_origin_service()
    {
        await using var server = await LoopbackServer.StartAsync();
        var node = await NodeHarness.StartScenarioAsync("PUBLISHING", "publish", server.Uri.ToString(), "nodecam");
        try
        {
            var broadcast = await server.Origin.WaitForBroadcastAsync("nodecam");
            var track = await broadcast.GetTrackAsync("data").AsTask().WaitAsync(TestServerClients.Timeout);
            Assert.NotNull(track);
            using var subscription = track.Subscribe();
            using var group = await subscription.NextGroupAsync().AsTask().WaitAsync(TestServerClients.Timeout);
            Assert.StartsWith("node-", await group!.ReadTextFrameAsync(), StringComparison.Ordinal);
        }
        finally
        {
            NodeHarness.Stop(node);
        }
    }

    [Fact]
    public async Task A_token_scoped_reference_client_is_refused_outside_its_prefix()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        await using var server = await LoopbackServer.StartAsync(options =>
        {
            options.Tokens.Required = true;
            options.Tokens.Keys.Add(MoqTokenKey.Hs256(secret));
        });
        var hidden = new MoqBroadcast();
        var hiddenTrack = hidden.CreateTrack("seconds", TrackInfo.Default);
        server.Origin.Publish("private/clock", hidden);
        var token = Tokens.Hs256(secret, new { root = "", get = new[] { "clock" } });

        var result = await NodeHarness.RunScenarioAsync("scoped", server.Uri + "?jwt=" + token, "clock", "private/clock");
        Assert.Matches(@"^\d{4}-", result.GetProperty("allowed").GetString());
        // The reference client sees the SUBSCRIBE refused with Unauthorized (6).
        Assert.Equal("error: RemoteError: remote error: 6", result.GetProperty("denied").GetString());
        Assert.Equal(0, hiddenTrack.SubscriptionCount);
    }
}
