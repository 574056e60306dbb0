using System.Runtime.InteropServices;
using MoqLite.Client;
using MoqLite.Lite;
using MoqLite.Model;
using MoqLite.Protocol.Tests.Transport;
using MoqLite.Session;
using MoqLite.Transport.QMux;

namespace MoqLite.Protocol.Tests.Sessions;

/// <summary>The whole session suite again, over QMux on a loopback WebSocket server with the .NET client.</summary>
public sealed class QMuxSessionTests : SessionTests, IAsyncLifetime, IDisposable
{
    private readonly Dictionary<MoqOrigin, LoopbackQMuxServer> _servers = [];
    private readonly SemaphoreSlim _gate = new(1, 1);

    internal override async Task<SessionPair> Connect(MoqOrigin? relay = null, string protocol = "moq-lite-05", MoqSessionOptions? serverOptions = null)
    {
        relay ??= new MoqOrigin();
        LoopbackQMuxServer server;
        await _gate.WaitAsync();
        try
        {
            if (!_servers.TryGetValue(relay, out server!))
            {
                _servers[relay] = server = await LoopbackQMuxServer.StartAsync(relay, serverOptions);
            }
            Assert.True(LiteVersions.TryParseAlpn(protocol, out var version));
            var client = await MoqClient.ConnectAsync(server.Uri, new MoqClientOptions { Versions = [version] });
            var serverSession = await server.NextSessionAsync();
            return new SessionPair((LiteSession)client, serverSession, relay);
        }
        finally
        {
            _gate.Release();
        }
    }

    [Theory]
    [InlineData(QMuxVersion.Draft00)]
    [InlineData(QMuxVersion.Draft01)]
    [InlineData(QMuxVersion.Draft02)]
    public async Task Each_qmux_draft_carries_a_session(QMuxVersion draft)
    {
        var relay = new MoqOrigin();
        await using var server = await LoopbackQMuxServer.StartAsync(relay);
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        relay.Publish("d", broadcast);
        await using var client = await MoqClient.ConnectAsync(server.Uri, new MoqClientOptions { QMuxDrafts = [draft] });
        Assert.Equal(draft, ((QMuxConnection)client.Connection).Version);

        var remote = await client.Consume("d").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = remote!.Subscribe();
        await WaitUntilAsync(() => track.SubscriptionCount == 1);
        // A group bigger than one WebSocket message and than the initial stream window crosses both limits.
        var payload = new byte[3 * 1024 * 1024];
        Random.Shared.NextBytes(payload);
        var group = track.AppendGroup();
        group.WriteFrame(payload, 1);
        group.Complete();
        using var received = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
        var frame = await received!.ReadFrameAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.True(frame!.Value.Payload.Span.SequenceEqual(payload));
    }

    [Fact]
    public async Task A_publisher_opening_thousands_of_group_streams_never_stalls_on_stream_credit()
    {
        var relay = new MoqOrigin();
        await using var server = await LoopbackQMuxServer.StartAsync(relay);
        await using var client = await MoqClient.ConnectAsync(server.Uri);
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        client.Origin.Publish("many", broadcast);
        var serverSession = await server.NextSessionAsync();
        var relayed = await relay.WaitForBroadcastAsync("many");
        var relayTrack = await relayed.GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = relayTrack!.Subscribe(maxBacklog: 4096);
        await WaitUntilAsync(() => track.SubscriptionCount == 1);

        // Far more group streams than the 256 the server grants at once: credit must be replenished as they finish.
        // Batches stay within the relay's in-flight bound, so no group is dropped as stale.
        const int batches = 250, perBatch = 4;
        for (var batch = 0; batch < batches; batch++)
        {
            for (var i = 0; i < perBatch; i++)
            {
                var group = track.AppendGroup();
                group.WriteStrings($"g{group.Sequence}");
                group.Complete();
            }
            for (var i = 0; i < perBatch; i++)
            {
                using var g = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
                Assert.Equal($"g{g!.Sequence}", (await g.ReadStringsAsync()).Single());
            }
        }
        Assert.False(serverSession.Completion.IsCompleted);
    }

    [Fact]
    public async Task Groups_dropped_on_their_way_never_corrupt_the_groups_sent_after_them_on_reused_streams()
    {
        var relay = new MoqOrigin();
        // One group in flight per subscriber: a group still being written when the next one starts is dropped.
        await using var server = await LoopbackQMuxServer.StartAsync(relay, new MoqSessionOptions { MaxGroupsInFlight = 1 });
        await using var client = await MoqClient.ConnectAsync(server.Uri);
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        relay.Publish("drops", broadcast);
        var remote = await client.Consume("drops").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = remote!.Subscribe();
        await WaitUntilAsync(() => track.SubscriptionCount == 1);

        // Every third group is left open, so the next one drops it after its header and first frame left: its stream is
        // reset and reused. The others finish with one or two more frames of other sizes, on reused streams and buffers.
        const int groups = 150;
        GroupReader? open = null;
        for (var sequence = 0; sequence < groups; sequence++)
        {
            var group = track.AppendGroup();
            group.WriteFrame(Expected(sequence, 0), 0);
            var received = (await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout))!;
            Assert.Equal((ulong)sequence, received.Sequence);
            if (open is not null)
            {
                await ReadDroppedAsync(open);
                open.Dispose();
                open = null;
            }
            if (sequence % 3 == 0)
            {
                open = received;
                continue;
            }
            using (received)
            {
                for (var frame = 1; frame <= sequence % 3; frame++)
                {
                    group.WriteFrame(Expected(sequence, frame), frame);
                }
                group.Complete();
                var frames = 0;
                while (await received.ReadFrameAsync().AsTask().WaitAsync(SessionPair.Timeout) is { } read)
                {
                    Assert.True(read.Payload.Span.SequenceEqual(Expected(sequence, frames)), $"group {sequence} frame {frames} arrived corrupted");
                    frames++;
                }
                Assert.Equal(sequence % 3 + 1, frames);
            }
        }

        static async Task ReadDroppedAsync(GroupReader dropped)
        {
            var first = await dropped.ReadFrameAsync().AsTask().WaitAsync(SessionPair.Timeout);
            Assert.True(first!.Value.Payload.Span.SequenceEqual(Expected((int)dropped.Sequence, 0)));
            var error = await Assert.ThrowsAsync<MoqException>(() => dropped.ReadFrameAsync().AsTask().WaitAsync(SessionPair.Timeout));
            Assert.Equal(MoqErrorCode.Dropped, error.Code);
        }

        static byte[] Expected(int sequence, int frame)
        {
            var payload = new byte[100 + ((sequence * 7919 + frame * 104729) % 20000)];
            new Random(sequence * 31 + frame).NextBytes(payload);
            return payload;
        }
    }

    [Fact]
    public async Task Garbage_on_the_websocket_closes_only_that_connection()
    {
        var relay = new MoqOrigin();
        await using var server = await LoopbackQMuxServer.StartAsync(relay);
        await using var healthy = await MoqClient.ConnectAsync(server.Uri);
        var healthyServer = await server.NextSessionAsync();

        using var raw = new System.Net.WebSockets.ClientWebSocket();
        raw.Options.AddSubProtocol("qmux-01.moq-lite-05");
        await raw.ConnectAsync(server.Uri, CancellationToken.None);
        var victim = await server.NextSessionAsync();
        await raw.SendAsync(new byte[] { 0x3f, 0xff, 0x00 }, System.Net.WebSockets.WebSocketMessageType.Binary, true, CancellationToken.None);
        var closed = await victim.Completion.WaitAsync(SessionPair.Timeout);
        Assert.Equal((ulong)MoqErrorCode.ProtocolViolation, closed.Code);

        relay.Publish("ok", new MoqBroadcast());
        await using var announcements = healthy.AnnouncedAsync("").GetAsyncEnumerator();
        Assert.True(await announcements.MoveNextAsync().AsTask().WaitAsync(SessionPair.Timeout));
        Assert.Equal("ok", announcements.Current.Path);
        Assert.False(healthyServer.Completion.IsCompleted);
    }

    [Theory]
    [InlineData(4000, true)]
    [InlineData(100, false)]
    public async Task A_whole_group_keeps_its_frames_in_the_received_message_unless_small_and_later_messages_leave_them_intact(int size, bool kept)
    {
        var relay = new MoqOrigin();
        await using var server = await LoopbackQMuxServer.StartAsync(relay);
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        relay.Publish("d", broadcast);
        await using var client = await MoqClient.ConnectAsync(server.Uri);
        var remote = await client.Consume("d").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = remote!.Subscribe(maxBacklog: 8);
        await WaitUntilAsync(() => track.SubscriptionCount == 1);

        var payloads = new List<byte[]>();
        var readers = new List<GroupReader>();
        for (var i = 0; i < 3; i++)
        {
            var payload = new byte[size];
            Random.Shared.NextBytes(payload);
            payloads.Add(payload);
            var group = track.AppendGroup();
            group.WriteFrame(payload, i);
            group.Complete();
            // Held unread while the next groups arrive, in messages of their own.
            readers.Add((await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout))!);
        }

        for (var i = 0; i < 3; i++)
        {
            using var reader = readers[i];
            var frame = (await reader.ReadFrameAsync().AsTask().WaitAsync(SessionPair.Timeout))!.Value;
            Assert.True(frame.Payload.Span.SequenceEqual(payloads[i]));
            // A frame kept where it arrived sits behind the QMux and group headers; a copy starts its own chunk.
            Assert.True(MemoryMarshal.TryGetArray(frame.Payload, out var place));
            Assert.Equal(kept, place.Offset > 0);
        }
    }

    [Fact]
    public async Task A_group_that_arrives_whole_for_a_subscription_never_requested_closes_the_session()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty);
        var session = LiteSession.Start(link.Connection, new MoqOrigin(), new MoqSessionOptions { AnnounceOnStart = false });

        // Stream type GROUP and a GROUP header (2 bytes: subscription 5, group 0), with FIN: the whole stream in one frame.
        await RawQMuxPeer.SendStreamAsync(link.Peer, 2, 0, Hex.Parse("00 02 05 00"), fin: true);

        var closed = await session.Completion.WaitAsync(SessionPair.Timeout);
        Assert.Equal((ulong)MoqErrorCode.ProtocolViolation, closed.Code);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public void Dispose() => _gate.Dispose();

    public async Task DisposeAsync()
    {
        foreach (var server in _servers.Values)
        {
            await server.DisposeAsync();
        }
    }
}
