using System.Net.Quic;
using System.Text.Json;
using Xunit.Abstractions;

namespace MoqLite.AspNetCore.Tests.Browser;

/// <summary>
/// Chromium and the reference client over HTTP/3 WebTransport against MapMoqLite. Needs libmsquic; without it
/// (QuicListener.IsSupported false) each test says so and skips.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Collection(BrowsersAndProcesses.Name)]
public class WebTransportBrowserTests(ITestOutputHelper output)
{
    private const string NoQuic = "HTTP/3 is not available on this machine (System.Net.Quic needs libmsquic.so.2), so WebTransport cannot be tested";

    [SkippableFact]
    public async Task A_browser_subscribes_to_a_server_broadcast_over_WebTransport()
    {
        SkipWithoutQuic();
        await using var server = await WebTransportServer.StartAsync();
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.OpenAsync(server.Page);

        var result = await page.EvaluateAsync<JsonElement>("""
            async (url) => {
              const conn = await Moq.Connection.connect(new URL(url), { websocket: { enabled: false } });
              const track = conn.consume(Moq.Path.from("clock")).subscribe("seconds", { priority: 0 });
              const group = await track.recvGroup();
              return { transport: conn.transport, version: conn.version, text: await group.readString() };
            }
            """, server.Moq.ToString());

        Assert.Equal("webtransport", result.GetProperty("transport").GetString());
        Assert.Equal("moq-lite-05", result.GetProperty("version").GetString());
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} ", result.GetProperty("text").GetString());
    }

    [SkippableFact]
    public async Task A_browser_broadcast_is_pulled_over_server_opened_streams_and_relayed_to_another_browser()
    {
        SkipWithoutQuic();
        await using var server = await WebTransportServer.StartAsync();
        await using var chromium = await Chromium.LaunchAsync();
        var publisher = await chromium.OpenAsync(server.Page);
        var subscriber = await chromium.OpenAsync(server.Page);

        await publisher.EvaluateAsync("""
            async (url) => {
              const conn = await Moq.Connection.connect(new URL(url), { websocket: { enabled: false } });
              const broadcast = new Moq.Broadcast.Producer();
              const track = broadcast.createTrack("chat", { timescale: Moq.Time.Timescale(1000), priority: 1, latencyMax: 3000 });
              conn.publish(Moq.Path.from("alice"), broadcast);
              let n = 0;
              setInterval(() => { const group = track.appendGroup(); group.writeString("hello-" + n++); group.close(); }, 100);
            }
            """, server.Moq.ToString());
        var result = await subscriber.EvaluateAsync<JsonElement>("""
            async (url) => {
              const conn = await Moq.Connection.connect(new URL(url), { websocket: { enabled: false } });
              const announced = conn.announced(Moq.Path.from(""));
              for (let entry; (entry = await announced.next()); ) if (String(entry.path) === "alice") break;
              const track = conn.consume(Moq.Path.from("alice")).subscribe("chat", { priority: 0 });
              const group = await track.recvGroup();
              return { transport: conn.transport, text: await group.readString() };
            }
            """, server.Moq.ToString());

        Assert.Equal("webtransport", result.GetProperty("transport").GetString());
        Assert.StartsWith("hello-", result.GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Request_response_FIN_survives_on_hundreds_of_browser_opened_streams()
    {
        SkipWithoutQuic();
        await using var server = await WebTransportServer.StartAsync();
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.OpenAsync(server.Page);

        // Raw WebTransport: 300 bidirectional streams at once, each a TRACK request for clock/seconds followed by FIN.
        // The server answers TRACK_INFO and FIN on each; its FIN must not cost the browser's request or the reply.
        var result = await page.EvaluateAsync<JsonElement>("""
            async (origin) => {
              const wt = await openRawWebTransport(origin);
              await wt.ready;
              const text = new TextEncoder();
              const body = [...[5], ...text.encode("clock"), ...[7], ...text.encode("seconds")];
              const request = new Uint8Array([0x06, body.length, ...body]);
              const one = async () => {
                const stream = await wt.createBidirectionalStream();
                const writer = stream.writable.getWriter();
                await writer.write(request);
                await writer.close();
                const reader = stream.readable.getReader();
                let received = 0;
                for (;;) { const { value, done } = await reader.read(); if (done) break; received += value.length; }
                return received;
              };
              const results = await Promise.allSettled(Array.from({ length: 300 }, one));
              wt.close();
              return {
                protocol: wt.protocol,
                answered: results.filter((r) => r.status === "fulfilled" && r.value > 0).length,
                failures: results.filter((r) => r.status === "rejected").slice(0, 3).map((r) => String(r.reason)),
              };
            }
            """, server.Origin.ToString());

        output.WriteLine(result.ToString());
        Assert.Equal("moq-lite-05", result.GetProperty("protocol").GetString());
        Assert.Equal(300, result.GetProperty("answered").GetInt32());
    }

    [SkippableFact]
    public async Task The_server_pulls_hundreds_of_tracks_from_a_browser_over_server_opened_streams()
    {
        SkipWithoutQuic();
        await using var server = await WebTransportServer.StartAsync();
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.OpenAsync(server.Page);
        await page.EvaluateAsync("""
            async (url) => {
              const conn = await Moq.Connection.connect(new URL(url), { websocket: { enabled: false } });
              const broadcast = new Moq.Broadcast.Producer();
              for (let i = 0; i < 200; i++) broadcast.createTrack("t" + i, { timescale: Moq.Time.Timescale(1000), priority: 1, latencyMax: 1000 + i });
              conn.publish(Moq.Path.from("many"), broadcast);
            }
            """, server.Moq.ToString());

        // Each GetTrackAsync is a TRACK request, TRACK_INFO reply and FIN on a stream the server opened.
        var broadcast = await server.Relay.WaitForBroadcastAsync("many");
        var tracks = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => broadcast.GetTrackAsync("t" + i).AsTask())).WaitAsync(TimeSpan.FromSeconds(30));
        for (var i = 0; i < 200; i++)
        {
            Assert.NotNull(tracks[i]);
            Assert.Equal(TimeSpan.FromMilliseconds(1000 + i), tracks[i]!.Info.LatencyMax);
        }
    }

    [SkippableFact]
    public async Task A_browser_publisher_keeps_going_past_the_stream_limit_because_finished_streams_return_credit()
    {
        SkipWithoutQuic();
        await using var server = await WebTransportServer.StartAsync();
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.OpenAsync(server.Page);
        await page.EvaluateAsync("""
            async (url) => {
              const conn = await Moq.Connection.connect(new URL(url), { websocket: { enabled: false } });
              const broadcast = new Moq.Broadcast.Producer();
              window.track = broadcast.createTrack("data", { timescale: Moq.Time.Timescale(1000), priority: 1, latencyMax: 10000 });
              conn.publish(Moq.Path.from("busy"), broadcast);
            }
            """, server.Moq.ToString());
        var broadcast = await server.Relay.WaitForBroadcastAsync("busy");
        var track = await broadcast.GetTrackAsync("data").AsTask().WaitAsync(TestServerClients.Timeout);
        using var subscription = track!.Subscribe(maxBacklog: 4096);

        // 1500 groups, one stream each, against a limit of 1000 streams per direction: only streams the server has
        // finished and disposed give the browser credit for more. Batches of 100 keep @moq/net, which drops a group
        // rather than wait for a stream slot, well inside the limit at any moment.
        for (var batch = 0; batch < 15; batch++)
        {
            await page.EvaluateAsync("(first) => { for (let i = first; i < first + 100; i++) { const g = window.track.appendGroup(); g.writeString(\"g\" + i); g.close(); } }", batch * 100);
            var lastOfBatch = (ulong)(batch * 100 + 99);
            ulong last = 0;
            while (last < lastOfBatch)
            {
                using var group = await subscription.NextGroupAsync().AsTask().WaitAsync(TestServerClients.Timeout);
                Assert.NotNull(group);
                last = group.Sequence;
            }
        }
    }

    [SkippableFact]
    public async Task Without_the_connection_hook_WebTransport_is_refused_with_a_log_line_instead_of_hanging()
    {
        SkipWithoutQuic();
        var logs = new CollectingLoggerProvider();
        await using var server = await WebTransportServer.StartAsync(hook: false, logs);
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.OpenAsync(server.Page);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var outcome = await page.EvaluateAsync<string>("""
            async (origin) => {
              const wt = await openRawWebTransport(origin);
              try { await wt.ready; return "connected"; } catch (e) { return "refused: " + e; }
            }
            """, server.Origin.ToString()).WaitAsync(TimeSpan.FromSeconds(20));

        output.WriteLine($"{outcome} after {clock.ElapsedMilliseconds} ms");
        Assert.StartsWith("refused", outcome, StringComparison.Ordinal);
        Assert.Contains(logs.Entries, e => e.EventId == 121 && e.Message.Contains("UseMoqLiteWebTransport", StringComparison.Ordinal));
    }

    private void SkipWithoutQuic()
    {
        if (!QuicListener.IsSupported)
        {
            output.WriteLine("Skipped: " + NoQuic);
        }
        Skip.IfNot(QuicListener.IsSupported, NoQuic);
    }
}
