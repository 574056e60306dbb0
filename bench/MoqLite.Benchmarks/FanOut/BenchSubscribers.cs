using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using MoqLite.Client;
using MoqLite.Model;

namespace MoqLite.Benchmarks.FanOut;

/// <summary>
/// The subscriber process of a fan-out run: N clients of one kind, each counting frames and bytes and recording
/// publish→receive latency during the measurement window. Client <c>slow</c> (if not −1) reads at a tenth of the
/// publish rate. Prints WINDOW-START, WINDOW-END, then one RESULT line of JSON.
/// </summary>
internal static class BenchSubscribers
{
    private static readonly Latencies Samples = new(4_000_000);
    private static readonly Latencies SlowSamples = new(100_000);
    private static long _frames;
    private static long _bytes;
    private static volatile bool _recording;

    /// <summary>Holds <paramref name="count"/> idle MOQ sessions open until standard input closes (the scale test).</summary>
    public static async Task<int> HoldIdleAsync(Uri server, int count)
    {
        var sessions = new List<Session.MoqSession>();
        for (var i = 0; i < count; i++)
        {
            sessions.Add(await MoqClient.ConnectAsync(server).ConfigureAwait(false));
        }
        Console.WriteLine($"CONNECTED {sessions.Count}");
        await Task.Run(() => Console.In.ReadToEnd()).ConfigureAwait(false);
        foreach (var session in sessions)
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
        return 0;
    }

    public static async Task<int> RunAsync(string mode, Uri server, int count, int rateHz, double seconds, int slow, string? certificateSha256)
    {
        using var stop = new CancellationTokenSource();
        var clients = new List<Task>();
        var connected = 0;
        for (var batch = 0; batch < count; batch += 50)
        {
            var pending = new List<(Task Ready, Task Client)>();
            for (var i = batch; i < Math.Min(count, batch + 50); i++)
            {
                var index = i;
                var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var client = Task.Run(() => mode switch
                {
                    "moqlite" or "moqlite-quic" => RunMoqAsync(server, certificateSha256, index == slow, rateHz, ready, stop.Token),
                    "signalr" => RunSignalRAsync(server, index == slow, rateHz, ready, stop.Token),
                    _ => RunRawAsync(server, index == slow, rateHz, ready, stop.Token),
                });
                clients.Add(client);
                pending.Add((ready.Task, client));
            }
            foreach (var (ready, client) in pending)
            {
                if (await Task.WhenAny(ready, client).WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false) == client)
                {
                    await client.ConfigureAwait(false);
                    throw new InvalidOperationException("a client ended before it was ready");
                }
                connected++;
            }
        }
        Console.WriteLine($"CONNECTED {connected}");
        BenchServer.Settle();
        // Warm up first, the same for every mode: tiered JIT is still recompiling hot paths in the first seconds.
        await Task.Delay(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        var start = Stopwatch.GetTimestamp();
        var (allocatedBefore, gen0Before, gen2Before) = (GC.GetTotalAllocatedBytes(), GC.CollectionCount(0), GC.CollectionCount(2));
        _recording = true;
        Console.WriteLine("WINDOW-START");
        await Task.Delay(TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
        _recording = false;
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var allocated = GC.GetTotalAllocatedBytes() - allocatedBefore;
        Console.WriteLine("WINDOW-END");
        var result = new
        {
            frames = Interlocked.Read(ref _frames),
            bytes = Interlocked.Read(ref _bytes),
            seconds = elapsed,
            p50 = Samples.Percentile(0.50),
            p99 = Samples.Percentile(0.99),
            max = Samples.Percentile(1.0),
            slowFrames = SlowSamples.Count,
            // What the subscriber process itself costs, to compare the clients of each mode.
            clientAllocatedPerFrame = allocated / Math.Max(1, Interlocked.Read(ref _frames)),
            clientGen0 = GC.CollectionCount(0) - gen0Before,
            clientGen2 = GC.CollectionCount(2) - gen2Before,
        };
        Console.WriteLine("RESULT " + JsonSerializer.Serialize(result));
        await stop.CancelAsync().ConfigureAwait(false);
        return 0;
    }

    private static Uri WebSocketUri(Uri server, string path) => new UriBuilder(new Uri(server, path)) { Scheme = "ws" }.Uri;

    private static void Record(ReadOnlySpan<byte> frame, bool slow)
    {
        if (!_recording)
        {
            return;
        }
        var latency = Payload.LatencyMicros(frame);
        if (slow)
        {
            SlowSamples.Add(latency);
            return;
        }
        Interlocked.Increment(ref _frames);
        Interlocked.Add(ref _bytes, frame.Length);
        Samples.Add(latency);
    }

    /// <summary>The slow subscriber takes ten frame intervals per frame: a tenth of the publish rate.</summary>
    private static Task SlowDownAsync(bool slow, int rateHz, CancellationToken stop) =>
        slow ? Task.Delay(TimeSpan.FromSeconds(10.0 / Math.Max(rateHz, 30)), stop) : Task.CompletedTask;

    private static async Task RunMoqAsync(Uri server, string? certificateSha256, bool slow, int rateHz, TaskCompletionSource ready, CancellationToken stop)
    {
        await using var session = await MoqClient.ConnectAsync(server, new MoqClientOptions { QuicCertificateSha256 = certificateSha256 }, stop).ConfigureAwait(false);
        MoqTrack? track = null;
        while (track is null)
        {
            track = await session.Consume("bench").GetTrackAsync("data", stop).ConfigureAwait(false);
        }
        using var subscription = track.Subscribe(maxBacklog: 64);
        ready.TrySetResult();
        try
        {
            while (await subscription.NextGroupAsync(stop).ConfigureAwait(false) is { } group)
            {
                using (group)
                {
                    try
                    {
                        while (await group.ReadFrameAsync(stop).ConfigureAwait(false) is { } frame)
                        {
                            Record(frame.Payload.Span, slow);
                            await SlowDownAsync(slow, rateHz, stop).ConfigureAwait(false);
                        }
                    }
                    catch (MoqException)
                    {
                        // This group was dropped on its way (we fell behind): go on with the next.
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    private static async Task RunRawAsync(Uri server, bool slow, int rateHz, TaskCompletionSource ready, CancellationToken stop)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(WebSocketUri(server, "/ws"), stop).ConfigureAwait(false);
        ready.TrySetResult();
        var buffer = new byte[1 << 20];
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(length), stop).ConfigureAwait(false);
                    length += result.Count;
                }
                while (!result.EndOfMessage);
                Record(buffer.AsSpan(0, length), slow);
                await SlowDownAsync(slow, rateHz, stop).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // Stopped.
        }
    }

    /// <summary>
    /// A minimal SignalR client speaking the MessagePack hub protocol over a plain ClientWebSocket, so subscriber CPU
    /// stays comparable to the other modes (the full HubConnection costs several times the server per frame).
    /// </summary>
    private static async Task RunSignalRAsync(Uri server, bool slow, int rateHz, TaskCompletionSource ready, CancellationToken stop)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(WebSocketUri(server, "/hub"), stop).ConfigureAwait(false);
        await socket.SendAsync(Encoding.UTF8.GetBytes("{\"protocol\":\"messagepack\",\"version\":1}\u001e"), WebSocketMessageType.Text, true, stop).ConfigureAwait(false);
        var buffer = new byte[1 << 20];
        var handshake = await socket.ReceiveAsync(buffer.AsMemory(), stop).ConfigureAwait(false);
        var end = Array.IndexOf(buffer, (byte)0x1e, 0, handshake.Count);
        if (end < 0 || buffer[0] != (byte)'{' || buffer[1] != (byte)'}')
        {
            throw new InvalidOperationException("SignalR handshake failed: " + Encoding.UTF8.GetString(buffer, 0, handshake.Count));
        }
        ready.TrySetResult();
        // Hub messages may follow the handshake response in the same WebSocket message.
        var pending = new ArrayBufferWriter<byte>();
        pending.Write(buffer.AsSpan(end + 1, handshake.Count - end - 1));
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), stop).ConfigureAwait(false);
                pending.Write(buffer.AsSpan(0, result.Count));
                if (!result.EndOfMessage)
                {
                    continue;
                }
                // A hub message may span WebSocket messages: keep the unread tail for the next one.
                var frames = RecordAll(pending.WrittenSpan, slow, out var used);
                var tail = pending.WrittenSpan[used..].ToArray();
                pending.ResetWrittenCount();
                pending.Write(tail);
                for (var i = 0; i < frames; i++)
                {
                    await SlowDownAsync(slow, rateHz, stop).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // Stopped.
        }
    }

    private static int RecordAll(ReadOnlySpan<byte> data, bool slow, out int used)
    {
        var frames = 0;
        used = 0;
        while (MessagePackFrames.TryReadInvocationPayload(data[used..], out var consumed, out var payloadStart, out var payloadLength))
        {
            if (payloadLength > 0)
            {
                Record(data.Slice(used + payloadStart, payloadLength), slow);
                frames++;
            }
            used += consumed;
        }
        return frames;
    }

    /// <summary>Latency samples in microseconds, preallocated so recording costs no allocation.</summary>
    private sealed class Latencies(int capacity)
    {
        private readonly long[] _samples = new long[capacity];
        private int _count;

        public int Count => Math.Min(Volatile.Read(ref _count), _samples.Length);

        public void Add(long micros)
        {
            var index = Interlocked.Increment(ref _count) - 1;
            if (index < _samples.Length)
            {
                _samples[index] = micros;
            }
        }

        public double Percentile(double p)
        {
            var count = Count;
            if (count == 0)
            {
                return 0;
            }
            var sorted = _samples[..count];
            Array.Sort(sorted);
            var rank = Math.Clamp((int)Math.Ceiling(p * count) - 1, 0, count - 1);
            return sorted[rank] / 1000.0;
        }
    }
}
