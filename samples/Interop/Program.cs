// The interop check (after gomoqt's cmd/interop): a fixed scenario against any MOQ Lite server URL, one line per
// step. Usage: dotnet run --project samples/Interop -- <url> [--pin <sha256 hex>]
//   url: ws://, wss://, http://, https:// (QMux over WebSocket) or moqt:// (raw QUIC).
//   --pin: accept a self-signed QUIC certificate with this SHA-256 (as the sample serves at /certificate.sha256).
using System.Diagnostics;
using System.Text;
using MoqLite.Client;
using MoqLite.Model;
using MoqLite.Session;

if (args.Length == 0 || !Uri.TryCreate(args[0], UriKind.Absolute, out var server))
{
    Console.Error.WriteLine("usage: Interop <url> [--pin <sha256 hex>]   (ws://host:port/moq, http://…, moqt://host:port/path)");
    return 2;
}
var pinAt = Array.IndexOf(args, "--pin");
var pin = pinAt > 0 && pinAt + 1 < args.Length ? args[pinAt + 1] : null;
var id = Guid.NewGuid().ToString("N")[..8];
var name = $"interop/{id}";
var timeout = TimeSpan.FromSeconds(10);
var failed = false;

async Task<T?> Step<T>(string what, Func<Task<T>> action)
{
    var clock = Stopwatch.StartNew();
    try
    {
        var result = await action().WaitAsync(timeout);
        Console.WriteLine($"PASS {what} ({clock.ElapsedMilliseconds} ms)");
        return result;
    }
    catch (Exception ex)
    {
        Console.WriteLine($"FAIL {what}: {ex.GetType().Name}: {ex.Message}");
        failed = true;
        return default;
    }
}

MoqClientOptions Options(MoqOrigin origin) => new()
{
    Origin = origin,
    QuicCertificateSha256 = pin,
};

var publisherOrigin = new MoqOrigin();
var broadcast = new MoqBroadcast();
var track = broadcast.CreateTrack("data", TrackInfo.Default);
publisherOrigin.Publish(name, broadcast);

var publisher = await Step("connect publisher", () => MoqClient.ConnectAsync(server, Options(publisherOrigin)));
var subscriberOrigin = new MoqOrigin();
var subscriber = await Step("connect subscriber", () => MoqClient.ConnectAsync(server, Options(subscriberOrigin)));
if (publisher is null || subscriber is null)
{
    return 1;
}
Console.WriteLine($"     {subscriber.Protocol} over {subscriber.Connection.TransportName}");

await Step("read an announcement", async () =>
{
    await foreach (var announcement in subscriber.AnnouncedAsync("interop"))
    {
        if (announcement.Active && announcement.Path == id)
        {
            return true;
        }
    }
    throw new InvalidOperationException("announcements ended");
});

var remote = await Step("subscribe", async () =>
    await subscriber.Consume(name).GetTrackAsync("data") ?? throw new InvalidOperationException("track not found"));
using var subscription = remote?.Subscribe();

await Step("receive a group", async () =>
{
    var next = subscription!.NextGroupAsync().AsTask();
    // Keep writing until one arrives: the subscription reaches the publisher asynchronously.
    using var writer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
    while (!next.IsCompleted)
    {
        var group = track.AppendGroup();
        group.WriteFrame(Encoding.UTF8.GetBytes("ping " + id), 0);
        group.Complete();
        await Task.WhenAny(next, writer.WaitForNextTickAsync().AsTask());
    }
    using var received = await next ?? throw new InvalidOperationException("the track ended");
    var frame = await received.ReadFrameAsync() ?? throw new InvalidOperationException("empty group");
    var text = Encoding.UTF8.GetString(frame.Payload.Span);
    return text == "ping " + id ? text : throw new InvalidOperationException($"unexpected payload '{text}'");
});

await Step("publish back", async () =>
{
    var reply = new MoqBroadcast();
    var replyTrack = reply.CreateTrack("data", TrackInfo.Default);
    subscriberOrigin.Publish(name + "-reply", reply);
    await foreach (var announcement in publisher.AnnouncedAsync("interop"))
    {
        if (announcement.Active && announcement.Path == id + "-reply")
        {
            break;
        }
    }
    var back = await publisher.Consume(name + "-reply").GetTrackAsync("data") ?? throw new InvalidOperationException("reply not found");
    using var backSubscription = back.Subscribe();
    var next = backSubscription.NextGroupAsync().AsTask();
    using var writer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
    while (!next.IsCompleted)
    {
        var group = replyTrack.AppendGroup();
        group.WriteFrame("pong"u8, 0);
        group.Complete();
        await Task.WhenAny(next, writer.WaitForNextTickAsync().AsTask());
    }
    using var received = await next ?? throw new InvalidOperationException("the reply ended");
    return await received.ReadFrameAsync() ?? throw new InvalidOperationException("empty reply");
});

await Step("clean close", async () =>
{
    await subscriber.CloseAsync();
    await publisher.CloseAsync();
    await Task.WhenAll(subscriber.Completion, publisher.Completion);
    return true;
});

Console.WriteLine(failed ? "interop: FAIL" : "interop: PASS");
return failed ? 1 : 0;
