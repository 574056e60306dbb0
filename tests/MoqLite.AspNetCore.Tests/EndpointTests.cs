using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Mvc.Testing;
using MoqLite.Model;

namespace MoqLite.AspNetCore.Tests;

/// <summary>MapMoqLite in the sample app, driven by the .NET client over TestServer's WebSocket.</summary>
public class EndpointTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    [Fact]
    public async Task The_DI_clock_handler_serves_a_subscriber()
    {
        await using var client = await factory.ConnectAsync("/moq");
        var track = await client.Consume("clock").GetTrackAsync("seconds").AsTask().WaitAsync(TestServerClients.Timeout);
        Assert.NotNull(track);
        using var subscription = track.Subscribe();
        using var group = await subscription.NextGroupAsync().AsTask().WaitAsync(TestServerClients.Timeout);
        var text = await group!.ReadTextFrameAsync();
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", text);
    }

    [Fact]
    public async Task A_client_below_the_route_publishes_into_its_namespace_and_another_subscribes()
    {
        var publisherOrigin = new MoqOrigin();
        var broadcast = new MoqBroadcast();
        var chat = broadcast.CreateTrack("chat", TrackInfo.Default);
        publisherOrigin.Publish("alice", broadcast);
        await using var publisher = await factory.ConnectAsync("/moq/room1", publisherOrigin);
        await using var subscriber = await factory.ConnectAsync("/moq");

        await using var announcements = subscriber.AnnouncedAsync("room1").GetAsyncEnumerator();
        Assert.True(await announcements.MoveNextAsync().AsTask().WaitAsync(TestServerClients.Timeout));
        Assert.Equal(("alice", true), (announcements.Current.Path, announcements.Current.Active));

        var track = await subscriber.Consume("room1/alice").GetTrackAsync("chat").AsTask().WaitAsync(TestServerClients.Timeout);
        using var subscription = track!.Subscribe();
        await WaitUntilAsync(() => chat.SubscriptionCount == 1);
        var group = chat.AppendGroup();
        group.WriteFrame("hi"u8, 1);
        group.Complete();
        using var received = await subscription.NextGroupAsync().AsTask().WaitAsync(TestServerClients.Timeout);
        Assert.Equal("hi", await received!.ReadTextFrameAsync());
    }

    [Fact]
    public async Task Server_code_consumes_a_client_broadcast_through_the_injected_origin()
    {
        var clientOrigin = new MoqOrigin();
        var broadcast = new MoqBroadcast();
        var sensor = broadcast.CreateTrack("readings", TrackInfo.Default);
        clientOrigin.Publish("sensor", broadcast);
        await using var client = await factory.ConnectAsync("/moq/devices", clientOrigin);

        var relayed = await factory.Origin().WaitForBroadcastAsync("devices/sensor");
        var track = await relayed.GetTrackAsync("readings").AsTask().WaitAsync(TestServerClients.Timeout);
        using var subscription = track!.Subscribe();
        await WaitUntilAsync(() => sensor.SubscriptionCount == 1);
        var group = sensor.AppendGroup();
        group.WriteFrame("21.5"u8, 1);
        group.Complete();
        using var received = await subscription.NextGroupAsync().AsTask().WaitAsync(TestServerClients.Timeout);
        Assert.Equal("21.5", await received!.ReadTextFrameAsync());
    }

    [Fact]
    public async Task The_echo_service_republishes_what_a_client_sends_back_to_it()
    {
        var origin = new MoqOrigin();
        var broadcast = new MoqBroadcast();
        var voice = broadcast.CreateTrack("voice", TrackInfo.Default);
        origin.Publish("echo/in/me", broadcast);
        await using var client = await factory.ConnectAsync("/moq", origin);

        await using var echoes = client.AnnouncedAsync("echo/out").GetAsyncEnumerator();
        Assert.True(await echoes.MoveNextAsync().AsTask().WaitAsync(TestServerClients.Timeout));
        Assert.Equal(("me", true), (echoes.Current.Path, echoes.Current.Active));
        var echo = await client.Consume("echo/out/me").GetTrackAsync("voice").AsTask().WaitAsync(TestServerClients.Timeout);
        using var subscription = echo!.Subscribe();
        await WaitUntilAsync(() => voice.SubscriptionCount == 1);
        var group = voice.AppendGroup();
        group.WriteFrame("hello?"u8, 1);
        group.Complete();
        using var heard = await subscription.NextGroupAsync().AsTask().WaitAsync(TestServerClients.Timeout);
        Assert.Equal("hello?", await heard!.ReadTextFrameAsync());
    }

    [Fact]
    public async Task A_plain_request_gets_426_with_an_explanation()
    {
        using var http = factory.CreateClient();
        var response = await http.GetAsync(new Uri("/moq", UriKind.Relative));
        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
        Assert.Contains("qmux-01.moq-lite-05", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_WebSocket_without_an_acceptable_subprotocol_is_refused()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => factory.OpenWebSocketAsync("/moq", "chat.v1"));
        Assert.Contains("400", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("qmux-01.moq-lite-05")]
    [InlineData("qmux-00.moq-lite-05")]
    [InlineData("qmux-02.moq-lite-05")]
    [InlineData("qmux-01.moq-lite-04")]
    [InlineData("qmux-00.moq-lite-03")]
    public async Task Each_supported_subprotocol_is_selected_when_offered_alone(string subprotocol)
    {
        using var socket = await factory.OpenWebSocketAsync("/moq", subprotocol);
        Assert.Equal(subprotocol, socket.SubProtocol);
        socket.Abort();
    }

    [Fact]
    public async Task Among_several_offered_subprotocols_qmux_01_with_moq_lite_05_is_preferred()
    {
        using var socket = await factory.OpenWebSocketAsync("/moq", "qmux-00.moq-lite-04", "qmux-02.moq-lite-05", "qmux-00.moq-lite-05", "qmux-01.moq-lite-05", "qmux-01.moq-lite-03");
        Assert.Equal("qmux-01.moq-lite-05", socket.SubProtocol);
        socket.Abort();
    }

    [Fact]
    public async Task Garbage_on_one_WebSocket_closes_only_that_session()
    {
        await using var healthy = await factory.ConnectAsync("/moq");
        using var bad = await factory.OpenWebSocketAsync("/moq", "qmux-01.moq-lite-05");
        await bad.SendAsync(Encoding.ASCII.GetBytes("this is not qmux"), WebSocketMessageType.Binary, true, default);
        var buffer = new byte[4096];
        // The server answers with CONNECTION_CLOSE (after its transport parameters) and ends the socket,
        // with a close message or by dropping it.
        try
        {
            while ((await bad.ReceiveAsync(buffer, default).WaitAsync(TestServerClients.Timeout)).MessageType != WebSocketMessageType.Close)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or WebSocketException or ObjectDisposedException)
        {
            // Dropped: just as closed.
        }
        var track = await healthy.Consume("clock").GetTrackAsync("seconds").AsTask().WaitAsync(TestServerClients.Timeout);
        Assert.NotNull(track);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TestServerClients.Timeout);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
        while (!condition())
        {
            Assert.True(await timer.WaitForNextTickAsync(timeout.Token).AsTask().ContinueWith(t => !t.IsCanceled), "condition not met in time");
        }
    }
}
