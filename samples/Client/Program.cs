// A native .NET MOQ client (gomoqt's native QUIC example): publishes or subscribes over raw QUIC where
// System.Net.Quic works, over QMux/WebSocket otherwise.
//   dotnet run --project samples/Client -- subscribe [--url U] [--pin HEX] [broadcast] [track]   (default clock seconds)
//   dotnet run --project samples/Client -- publish   [--url U] [--pin HEX] [broadcast] [track]   (default dotnet/counter count)
// Without --url: moqt://localhost:5001/ when QUIC is available (the sample's raw QUIC port), ws://localhost:5000/moq otherwise.
using System.Text;
using MoqLite.Client;
using MoqLite.Model;
using MoqLite.Transport.Quic;

var positional = new List<string>();
string? url = null, pin = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--url" when i + 1 < args.Length: url = args[++i]; break;
        case "--pin" when i + 1 < args.Length: pin = args[++i]; break;
        default: positional.Add(args[i]); break;
    }
}
var mode = positional.ElementAtOrDefault(0);
if (mode is not ("subscribe" or "publish"))
{
    Console.Error.WriteLine("usage: Client subscribe|publish [--url U] [--pin HEX] [broadcast] [track]");
    return 2;
}
var server = new Uri(url ?? (QuicTransport.IsSupported ? "moqt://localhost:5001/" : "ws://localhost:5000/moq"));
var broadcastPath = positional.ElementAtOrDefault(1) ?? (mode == "subscribe" ? "clock" : "dotnet/counter");
var trackName = positional.ElementAtOrDefault(2) ?? (mode == "subscribe" ? "seconds" : "count");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
var origin = new MoqOrigin();
await using var session = await MoqClient.ConnectAsync(server, new MoqClientOptions
{
    Origin = origin,
    // A development server's self-signed certificate, pinned by hash as browsers do.
    QuicCertificateSha256 = pin,
}, stop.Token);
Console.WriteLine($"connected to {server} with {session.Protocol} over {session.Connection.TransportName}");

try
{
    if (mode == "subscribe")
    {
        Console.WriteLine($"waiting for {broadcastPath} to be announced");
        await foreach (var announcement in session.AnnouncedAsync(broadcastPath, stop.Token))
        {
            if (announcement.Active && announcement.Path.Length == 0)
            {
                break;
            }
        }
        var track = await session.Consume(broadcastPath).GetTrackAsync(trackName, stop.Token)
            ?? throw new InvalidOperationException($"'{broadcastPath}' has no track '{trackName}'");
        using var subscription = track.Subscribe();
        while (await subscription.NextGroupAsync(stop.Token) is { } group)
        {
            using (group)
            {
                while (await group.ReadFrameAsync(stop.Token) is { } frame)
                {
                    Console.WriteLine($"group {group.Sequence} @{frame.Timestamp}: {Encoding.UTF8.GetString(frame.Payload.Span)}");
                }
            }
        }
    }
    else
    {
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack(trackName, TrackInfo.Default);
        origin.Publish(broadcastPath, broadcast);
        Console.WriteLine($"publishing {broadcastPath}/{trackName}, one group a second; Ctrl+C to stop");
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        for (var n = 0; await timer.WaitForNextTickAsync(stop.Token); n++)
        {
            var group = track.AppendGroup();
            group.WriteFrame(Encoding.UTF8.GetBytes($"count {n}"), Environment.TickCount64);
            group.Complete();
        }
    }
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    // Ctrl+C.
}
await session.CloseAsync();
return 0;
