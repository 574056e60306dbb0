using MoqLite.Model;
using MoqLite.Session;
using MoqLite.Transport.Memory;

namespace MoqLite.Protocol.Tests.Sessions;

/// <summary>Session behaviour over the in-memory transport; the QMux suite repeats it over a loopback WebSocket.</summary>
public class SessionTests
{
    internal virtual Task<SessionPair> Connect(MoqOrigin? relay = null, string protocol = "moq-lite-05", MoqSessionOptions? serverOptions = null) =>
        Task.FromResult(SessionPair.InMemory(relay, protocol, serverOptions));

    [Theory]
    [InlineData("moq-lite-05")]
    [InlineData("moq-lite-04")]
    [InlineData("moq-lite-03")]
    public async Task Client_publishes_and_the_relay_serves_it_back(string protocol)
    {
        await using var pair = await Connect(protocol: protocol);
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("chat", new TrackInfo(1, false, TimeSpan.FromSeconds(3), 1000));
        pair.ClientOrigin.Publish("alice", broadcast);

        var relayed = await pair.Relay.WaitForBroadcastAsync("alice");
        var relayedTrack = await relayed.GetTrackAsync("chat").AsTask().WaitAsync(SessionPair.Timeout);
        Assert.NotNull(relayedTrack);
        if (protocol == "moq-lite-05")
        {
            Assert.Equal(TimeSpan.FromSeconds(3), relayedTrack.Info.LatencyMax);
        }
        using var subscription = relayedTrack.Subscribe();

        var group = track.AppendGroup();
        group.WriteStrings("hello", "world");
        group.Complete();

        using var received = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.NotNull(received);
        Assert.Equal(0UL, received.Sequence);
        Assert.Equal(["hello", "world"], await received.ReadStringsAsync());
    }

    [Fact]
    public async Task Frame_timestamps_survive_the_wire()
    {
        await using var pair = await Connect();
        var broadcast = new MoqBroadcast();
        pair.Relay.Publish("clock", broadcast);
        var track = broadcast.CreateTrack("seconds", TrackInfo.Default);

        var consumed = pair.Client.Consume("clock");
        var remote = await consumed.GetTrackAsync("seconds").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = remote!.Subscribe();
        await WaitUntilAsync(() => track.SubscriptionCount == 1);

        var group = track.AppendGroup();
        group.WriteFrame("a"u8, 1000);
        group.WriteFrame("b"u8, 400);
        group.WriteFrame("c"u8, 5000);
        group.Complete();
        using var reader = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
        var stamps = new List<long>();
        while (await reader!.ReadFrameAsync() is { } frame)
        {
            stamps.Add(frame.Timestamp);
        }
        Assert.Equal([1000L, 400L, 5000L], stamps);
    }

    [Fact]
    public async Task Late_subscriber_starts_at_the_latest_group()
    {
        await using var pair = await Connect();
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        pair.Relay.Publish("live", broadcast);
        for (var i = 0; i < 3; i++)
        {
            var g = track.AppendGroup();
            g.WriteStrings($"g{i}");
            g.Complete();
        }
        var open = track.AppendGroup();
        open.WriteStrings("first");

        var remote = await pair.Client.Consume("live").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = remote!.Subscribe();
        using var group = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.Equal(3UL, group!.Sequence);
        open.WriteStrings("second");
        open.Complete();
        Assert.Equal(["first", "second"], await group.ReadStringsAsync());
    }

    [Fact]
    public async Task Prefix_discovery_reports_active_and_ended()
    {
        await using var pair = await Connect();
        var early = new MoqBroadcast();
        pair.Relay.Publish("room/early", early);
        pair.Relay.Publish("other/x", new MoqBroadcast());

        await using var announcements = pair.Client.AnnouncedAsync("room").GetAsyncEnumerator();
        Assert.True(await announcements.MoveNextAsync().AsTask().WaitAsync(SessionPair.Timeout));
        Assert.Equal(("early", true), (announcements.Current.Path, announcements.Current.Active));

        var late = new MoqBroadcast();
        pair.Relay.Publish("room/late", late);
        Assert.True(await announcements.MoveNextAsync().AsTask().WaitAsync(SessionPair.Timeout));
        Assert.Equal(("late", true), (announcements.Current.Path, announcements.Current.Active));

        early.Close();
        Assert.True(await announcements.MoveNextAsync().AsTask().WaitAsync(SessionPair.Timeout));
        Assert.Equal(("early", false), (announcements.Current.Path, announcements.Current.Active));
    }

    [Fact]
    public async Task Publisher_leaving_ends_the_track_and_withdraws_the_announcement()
    {
        var relay = new MoqOrigin();
        await using var publisher = await Connect(relay);
        await using var subscriber = await Connect(relay);
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        publisher.ClientOrigin.Publish("bob", broadcast);
        await relay.WaitForBroadcastAsync("bob");

        await using var announcements = subscriber.Client.AnnouncedAsync("").GetAsyncEnumerator();
        Assert.True(await announcements.MoveNextAsync().AsTask().WaitAsync(SessionPair.Timeout));
        Assert.Equal("bob", announcements.Current.Path);
        var remote = await announcements.Current.Broadcast!.GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = remote!.Subscribe();
        await WaitUntilAsync(() => track.SubscriptionCount == 1);

        await publisher.Client.CloseAsync();

        Assert.True(await announcements.MoveNextAsync().AsTask().WaitAsync(SessionPair.Timeout));
        Assert.Equal(("bob", false), (announcements.Current.Path, announcements.Current.Active));
        Assert.Null(await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout).ContinueWith(t => t.IsFaulted ? null : t.Result));
        Assert.True(remote.IsCompleted);
    }

    [Fact]
    public async Task Subscribe_update_is_accepted_and_closing_the_stream_unsubscribes()
    {
        await using var pair = await Connect();
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        pair.Relay.Publish("b", broadcast);
        var stream = await pair.Client.Connection.OpenBidirectionalStreamAsync();
        var output = stream.Output!;
        Coding.VarInt.Write(output, (ulong)Lite.LiteBidiType.Subscribe);
        Lite.LiteCodec.Write(output, new Lite.Messages.Subscribe(0, "b", "t", 1, false, 0, null, null), Lite.LiteVersion.Lite05);
        await output.FlushAsync();
        await WaitUntilAsync(() => track.SubscriptionCount == 1);

        Lite.LiteCodec.Write(output, new Lite.Messages.SubscribeUpdate(200, true, 0, null, null), Lite.LiteVersion.Lite05);
        await output.FlushAsync();
        // The update is answered with nothing; a malformed one would have closed the session. No group is published:
        // this subscription bypasses the client's session, which would take a group for it as a protocol violation.
        Assert.Equal(1, track.SubscriptionCount);

        await output.CompleteAsync();
        await WaitUntilAsync(() => track.SubscriptionCount == 0);
        Assert.False(pair.Server.Completion.IsCompleted);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task A_received_track_caches_as_many_groups_as_the_session_allows(int cached)
    {
        await using var pair = await Connect(serverOptions: new MoqSessionOptions { MaxCachedGroups = cached });
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", new TrackInfo(0, false, TimeSpan.FromSeconds(30), 1000));
        pair.ClientOrigin.Publish("c", broadcast);
        var relayed = await pair.Relay.WaitForBroadcastAsync("c");
        var relayedTrack = (await relayed.GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout))!;
        using var subscription = relayedTrack.Subscribe();

        for (var i = 0; i < 5; i++)
        {
            var group = track.AppendGroup();
            group.WriteStrings($"g{i}");
            group.Complete();
            using var received = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
            Assert.Equal([$"g{i}"], await received!.ReadStringsAsync());
        }

        var kept = Enumerable.Range(0, 5).Where(i =>
        {
            using var reader = relayedTrack.TryOpenGroup((ulong)i);
            return reader is not null;
        });
        Assert.Equal(Enumerable.Range(5 - cached, cached), kept);
    }

    [Fact]
    public async Task Fetch_returns_one_cached_group()
    {
        await using var pair = await Connect();
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        pair.Relay.Publish("f", broadcast);
        for (var i = 0; i < 3; i++)
        {
            var g = track.AppendGroup();
            g.WriteStrings($"x{i}", $"y{i}");
            g.Complete();
        }
        using var fetched = await pair.Client.FetchAsync("f", "t", 1).AsTask().WaitAsync(SessionPair.Timeout);
        Assert.Equal(["x1", "y1"], await fetched.ReadStringsAsync());
        using var missing = await pair.Client.FetchAsync("f", "t", 99).AsTask().WaitAsync(SessionPair.Timeout);
        var error = await Assert.ThrowsAsync<MoqException>(() => missing.ReadStringsAsync());
        Assert.Equal(MoqErrorCode.NotFound, error.Code);
    }

    [Fact]
    public async Task Unknown_broadcast_is_not_found()
    {
        await using var pair = await Connect();
        var track = await pair.Client.Consume("nobody").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        Assert.Null(track);
    }

    [Fact]
    public async Task Hundred_subscribers_share_one_upstream_subscription()
    {
        var relay = new MoqOrigin();
        await using var publisher = await Connect(relay);
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        publisher.ClientOrigin.Publish("fan", broadcast);
        await relay.WaitForBroadcastAsync("fan");

        var subscribers = (await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Connect(relay)))).ToList();
        try
        {
            var subscriptions = await Task.WhenAll(subscribers.Select(async s =>
            {
                var remote = await s.Client.Consume("fan").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
                return remote!.Subscribe();
            }));
            await WaitUntilAsync(() => relay.TryGetBroadcast("fan")!.GetTrackAsync("t").AsTask().Result!.SubscriptionCount == 100);
            await WaitUntilAsync(() => track.SubscriptionCount == 1);

            var group = track.AppendGroup();
            group.WriteStrings("to-all");
            group.Complete();
            var received = await Task.WhenAll(subscriptions.Select(async s =>
            {
                using var g = await s.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
                return (await g!.ReadStringsAsync()).Single();
            }));
            Assert.All(received, r => Assert.Equal("to-all", r));
            Assert.Equal(1, track.SubscriptionCount);

            foreach (var s in subscriptions)
            {
                s.Dispose();
            }
            // After the last downstream subscriber leaves, the upstream subscription is closed too.
            await WaitUntilAsync(() => track.SubscriptionCount == 0);
        }
        finally
        {
            foreach (var s in subscribers)
            {
                await s.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_stalled_subscriber_never_blocks_the_publisher_or_the_others()
    {
        var relay = new MoqOrigin();
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        relay.Publish("s", broadcast);
        await using var healthy = await Connect(relay);

        // The stalled peer subscribes and then never reads a single group stream.
        var (stalled, server) = MemoryTransport.CreatePair();
        var stalledServer = Lite.LiteSession.Start(server, relay);
        var subscribe = await stalled.OpenBidirectionalStreamAsync();
        Coding.VarInt.Write(subscribe.Output!, (ulong)Lite.LiteBidiType.Subscribe);
        Lite.LiteCodec.Write(subscribe.Output!, new Lite.Messages.Subscribe(0, "s", "t", 0, false, 0, null, null), Lite.LiteVersion.Lite05);
        await subscribe.Output!.FlushAsync();
        await WaitUntilAsync(() => track.SubscriptionCount == 1);

        var remote = await healthy.Client.Consume("s").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = remote!.Subscribe(maxBacklog: 64);
        await WaitUntilAsync(() => track.SubscriptionCount == 2);

        var payload = new byte[128 * 1024];
        const int groups = 40;
        for (var i = 0; i < groups; i++)
        {
            // Never blocks: the publisher only appends to the track.
            var group = track.AppendGroup();
            group.WriteFrame(payload, i);
            group.Complete();
        }
        var received = new HashSet<ulong>();
        while (!received.Contains(groups - 1))
        {
            using var g = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
            try
            {
                if ((await g!.ReadFrameAsync().AsTask().WaitAsync(SessionPair.Timeout)) is { } frame)
                {
                    Assert.Equal(payload.Length, frame.Payload.Length);
                    received.Add(g.Sequence);
                }
            }
            catch (MoqException ex) when (ex.Code == MoqErrorCode.Dropped)
            {
                // A burst past MaxGroupsInFlight: the relay drops older groups still on their way, for anyone.
            }
        }
        Assert.False(stalledServer.Completion.IsCompleted);
        await stalled.CloseAsync(0, "done");
    }

    [Fact]
    public async Task Goaway_reaches_the_peer_with_its_uri()
    {
        await using var pair = await Connect();
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        pair.Client.GoawayReceived += uri => received.TrySetResult(uri);
        await pair.Server.GoawayAsync("https://other.example/moq");
        Assert.Equal("https://other.example/moq", await received.Task.WaitAsync(SessionPair.Timeout));
    }

    [Fact]
    public async Task Subscriptions_beyond_the_limit_are_refused_with_bounds_exceeded()
    {
        await using var pair = await Connect(serverOptions: new MoqSessionOptions { MaxSubscriptions = 1 });
        var broadcast = new MoqBroadcast();
        broadcast.CreateTrack("a", TrackInfo.Default);
        broadcast.CreateTrack("b", TrackInfo.Default);
        pair.Relay.Publish("lim", broadcast);
        var consumer = pair.Client.Consume("lim");
        var first = await consumer.GetTrackAsync("a").AsTask().WaitAsync(SessionPair.Timeout);
        using var one = first!.Subscribe();
        var second = await consumer.GetTrackAsync("b").AsTask().WaitAsync(SessionPair.Timeout);
        using var two = second!.Subscribe();
        var error = await Assert.ThrowsAsync<MoqException>(() => two.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout));
        Assert.Equal(MoqErrorCode.BoundsExceeded, error.Code);
        Assert.False(pair.Server.Completion.IsCompleted);
    }

    [Fact]
    public async Task Malformed_input_closes_only_that_session()
    {
        var relay = new MoqOrigin();
        await using var healthy = await Connect(relay);
        var (attacker, server) = MemoryTransport.CreatePair();
        var victim = Lite.LiteSession.Start(server, relay);

        var stream = await attacker.OpenBidirectionalStreamAsync();
        // An Announce stream whose ANNOUNCE_REQUEST claims a prefix longer than the message.
        await stream.Output!.WriteAsync(Hex.Parse("01 03 09 61 62"));
        var closed = await victim.Completion.WaitAsync(SessionPair.Timeout);
        Assert.Equal((ulong)MoqErrorCode.ProtocolViolation, closed.Code);

        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        relay.Publish("still-fine", broadcast);
        var remote = await healthy.Client.Consume("still-fine").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        Assert.NotNull(remote);
        Assert.False(healthy.Server.Completion.IsCompleted);
    }

    [Fact]
    public async Task A_group_older_than_the_latency_window_is_dropped_when_a_newer_one_starts()
    {
        await using var pair = await Connect();
        var clock = new ManualClock();
        var broadcast = new MoqBroadcast { TimeProvider = clock };
        var track = broadcast.CreateTrack("t", new TrackInfo(0, false, TimeSpan.FromSeconds(1), 1000));
        pair.Relay.Publish("live", broadcast);
        var stale = track.AppendGroup();
        stale.WriteStrings("old");

        var remote = await pair.Client.Consume("live").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = remote!.Subscribe();
        using var first = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.Equal(0UL, first!.Sequence);
        var frame = await first.ReadFrameAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.Equal("old", System.Text.Encoding.UTF8.GetString(frame!.Value.Payload.Span));

        // Group 0 is still open when group 1 starts two seconds later, past the 1 s window: it is reset, not waited for.
        clock.Advance(TimeSpan.FromSeconds(2));
        var fresh = track.AppendGroup();
        fresh.WriteStrings("new");
        fresh.Complete();
        using var second = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.Equal(1UL, second!.Sequence);
        Assert.Equal(["new"], await second.ReadStringsAsync());
        var dropped = await Assert.ThrowsAnyAsync<MoqException>(() => first.ReadFrameAsync().AsTask().WaitAsync(SessionPair.Timeout));
        Assert.Equal(MoqErrorCode.Dropped, dropped.Code);
    }

    [Fact]
    public async Task A_group_within_the_latency_window_is_not_dropped()
    {
        await using var pair = await Connect();
        var clock = new ManualClock();
        var broadcast = new MoqBroadcast { TimeProvider = clock };
        var track = broadcast.CreateTrack("t", new TrackInfo(0, false, TimeSpan.FromSeconds(1), 1000));
        pair.Relay.Publish("live", broadcast);
        var open = track.AppendGroup();
        open.WriteStrings("a");

        var remote = await pair.Client.Consume("live").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = remote!.Subscribe();
        using var first = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
        clock.Advance(TimeSpan.FromMilliseconds(500));
        var next = track.AppendGroup();
        next.WriteStrings("b");
        next.Complete();
        using var second = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.Equal(["b"], await second!.ReadStringsAsync());

        open.WriteStrings("c");
        open.Complete();
        Assert.Equal(["a", "c"], await first!.ReadStringsAsync());
    }

    [Fact]
    public async Task A_long_group_is_aged_by_its_last_frame_not_its_start()
    {
        await using var pair = await Connect();
        var clock = new ManualClock();
        var broadcast = new MoqBroadcast { TimeProvider = clock };
        var track = broadcast.CreateTrack("t", new TrackInfo(0, false, TimeSpan.FromSeconds(1), 1000));
        pair.Relay.Publish("live", broadcast);
        var gop = track.AppendGroup();
        gop.WriteStrings("key");

        var remote = await pair.Client.Consume("live").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = remote!.Subscribe();
        using var first = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);

        // A two-second group of pictures, a frame every half second: it started long ago but is live to its end.
        for (var i = 0; i < 4; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(500));
            gop.WriteStrings($"delta {i}");
        }
        gop.Complete();
        var next = track.AppendGroup();
        next.WriteStrings("key 2");
        next.Complete();

        Assert.Equal(["key", "delta 0", "delta 1", "delta 2", "delta 3"], await first!.ReadStringsAsync());
        using var second = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.Equal(["key 2"], await second!.ReadStringsAsync());
    }

    [Fact]
    public async Task Leaving_a_remote_track_after_the_session_ended_is_harmless()
    {
        var pair = await Connect();
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        pair.Relay.Publish("live", broadcast);
        var remote = await pair.Client.Consume("live").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        var subscription = remote!.Subscribe();
        var group = track.AppendGroup();
        group.WriteStrings("x");
        group.Complete();
        using (await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout))
        {
            // The upstream subscription is fully established.
        }
        await pair.DisposeAsync();

        subscription.Dispose();
        Assert.True(remote.IsCompleted);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(SessionPair.Timeout);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
        while (!condition())
        {
            Assert.True(await timer.WaitForNextTickAsync(timeout.Token).AsTask().ContinueWith(t => !t.IsCanceled), "condition not met in time");
        }
    }
}
