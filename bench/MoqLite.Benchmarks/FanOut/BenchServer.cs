using System.Globalization;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MoqLite.Model;

namespace MoqLite.Benchmarks.FanOut;

/// <summary>
/// The server process of a fan-out run: one publisher inside the server sending frames of the configured size at the
/// configured rate (0 = as fast as the fan-out takes them) to every subscriber, in one of three ways:
/// MoqLite (<c>MapMoqLite</c>, QMux over WebSocket), SignalR (<c>Clients.All.SendAsync</c>, MessagePack) or a raw
/// WebSocket broadcast loop (the ceiling).
/// </summary>
internal static class BenchServer
{
    public static async Task<int> RunAsync(string mode, int port, int rateHz, int frameSize)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var sockets = new ConcurrentDictionary<WebSocket, byte>();
        switch (mode)
        {
            case "moqlite":
            case "moqlite-quic":
                builder.Services.AddMoqLite(options => options.Session.MaxGroupsInFlight = 16);
                break;
            case "signalr":
                builder.Services.AddSignalR(options => options.MaximumReceiveMessageSize = null).AddMessagePackProtocol();
                break;
        }
        var app = builder.Build();
        switch (mode)
        {
            case "moqlite":
            case "moqlite-quic":
                app.MapMoqLite("/moq");
                break;
            case "signalr":
                app.MapHub<BenchHub>("/hub");
                break;
            default:
                app.UseWebSockets();
                app.Map("/ws", async context =>
                {
                    using var socket = await context.WebSockets.AcceptWebSocketAsync();
                    sockets[socket] = 0;
                    var sink = new byte[64];
                    try
                    {
                        while ((await socket.ReceiveAsync(sink, context.RequestAborted)).MessageType != WebSocketMessageType.Close)
                        {
                        }
                    }
                    catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
                    {
                        // The subscriber went away.
                    }
                    sockets.TryRemove(socket, out _);
                });
                break;
        }
        await app.StartAsync();
        using var stop = new CancellationTokenSource();
        // Raw QUIC on the same port number (UDP): sessions on the same origin as the WebSocket endpoint's.
        RawQuic? quic = null;
        var ready = "READY";
        if (mode == "moqlite-quic" && Transport.Quic.QuicTransport.IsSupported)
        {
            quic = await RawQuic.StartAsync(app.Services.GetRequiredService<MoqOrigin>(), port, stop.Token);
            ready = $"READY {quic.CertificateSha256}";
        }
        Console.WriteLine(ready);
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        var publisher = mode switch
        {
            "moqlite" or "moqlite-quic" => PublishMoqAsync(app.Services.GetRequiredService<MoqOrigin>(), rateHz, frameSize, stop.Token),
            "signalr" => PublishSignalRAsync(app.Services.GetRequiredService<IHubContext<BenchHub>>(), rateHz, frameSize, stop.Token),
            _ => PublishRawAsync(sockets, rateHz, frameSize, stop.Token),
        };
        // The orchestrator asks for our allocation figures with a line, and ends the run by closing our standard input.
        await Task.WhenAny(Task.Run(AnswerStatsUntilClosed), publisher);
        await stop.CancelAsync();
        if (quic is not null && Transport.Quic.QuicTransport.IsSupported)
        {
            await quic.DisposeAsync();
        }
        await app.StopAsync();
        return 0;
    }

    /// <summary>
    /// Until standard input closes: "settle" collects the heap once the subscribers have connected and answers
    /// "SETTLED" (see <see cref="Settle"/>); any other line is answered "STATS allocatedBytes gen0 gen1 gen2".
    /// </summary>
    private static void AnswerStatsUntilClosed()
    {
        while (Console.In.ReadLine() is { } line)
        {
            if (line == "settle")
            {
                Settle();
                Console.WriteLine("SETTLED");
                continue;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"STATS {GC.GetTotalAllocatedBytes()} {GC.CollectionCount(0)} {GC.CollectionCount(1)} {GC.CollectionCount(2)}"));
        }
    }

    /// <summary>
    /// A full collection after connection setup, done by every mode's server and subscriber process before warm-up:
    /// otherwise the first collection in the window promotes everything the connections just allocated (5.8 MB and a
    /// 10 ms pause measured for 100 MOQ sessions), a one-time setup cost that would land in the steady-state tail.
    /// </summary>
    internal static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static async Task PublishMoqAsync(MoqOrigin origin, int rateHz, int frameSize, CancellationToken stop)
    {
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("data", new TrackInfo(0, false, TimeSpan.FromSeconds(1), 1000));
        origin.Publish("bench", broadcast);
        var frame = new byte[frameSize];
        using var pace = rateHz > 0 ? new PeriodicTimer(TimeSpan.FromSeconds(1.0 / rateHz)) : null;
        // Flat out means as fast as the subscribers take it, as the other modes' awaited sends do: keep a window of
        // groups in flight and wait for the oldest to be sent to everyone before writing the next.
        var window = new Queue<MoqGroup>();
        for (var n = 0L; !stop.IsCancellationRequested; n++)
        {
            // Like the raw loop, idle until someone listens: groups nobody reads would only burn the shared cores.
            while (track.SubscriptionCount == 0)
            {
                await Task.Delay(10, stop).ConfigureAwait(false);
            }
            Payload.Stamp(frame);
            var group = track.AppendGroup();
            group.WriteFrame(frame, n);
            group.Complete();
            if (pace is not null)
            {
                await pace.WaitForNextTickAsync(stop).ConfigureAwait(false);
                continue;
            }
            window.Enqueue(group);
            if (window.Count > 8)
            {
                await window.Dequeue().WaitForReadersAsync(stop).ConfigureAwait(false);
            }
        }
    }

    private static async Task PublishSignalRAsync(IHubContext<BenchHub> hub, int rateHz, int frameSize, CancellationToken stop)
    {
        using var pace = rateHz > 0 ? new PeriodicTimer(TimeSpan.FromSeconds(1.0 / rateHz)) : null;
        while (!stop.IsCancellationRequested)
        {
            var frame = new byte[frameSize];
            Payload.Stamp(frame);
            await hub.Clients.All.SendAsync("f", frame, stop).ConfigureAwait(false);
            if (pace is not null)
            {
                await pace.WaitForNextTickAsync(stop).ConfigureAwait(false);
            }
        }
    }

    private static async Task PublishRawAsync(ConcurrentDictionary<WebSocket, byte> sockets, int rateHz, int frameSize, CancellationToken stop)
    {
        var frame = new byte[frameSize];
        using var pace = rateHz > 0 ? new PeriodicTimer(TimeSpan.FromSeconds(1.0 / rateHz)) : null;
        var sends = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            Payload.Stamp(frame);
            sends.Clear();
            foreach (var socket in sockets.Keys)
            {
                sends.Add(Send(socket, frame, stop));
            }
            await Task.WhenAll(sends).ConfigureAwait(false);
            if (pace is not null)
            {
                await pace.WaitForNextTickAsync(stop).ConfigureAwait(false);
            }
            else if (sends.Count == 0)
            {
                await Task.Delay(10, stop).ConfigureAwait(false);
            }
        }

        static async Task Send(WebSocket socket, byte[] frame, CancellationToken stop)
        {
            try
            {
                await socket.SendAsync(frame, WebSocketMessageType.Binary, true, stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
                // A subscriber left mid-send.
            }
        }
    }
}

/// <summary>The SignalR hub subscribers connect to; the server pushes through <see cref="IHubContext{THub}"/>.</summary>
internal sealed class BenchHub : Hub;
