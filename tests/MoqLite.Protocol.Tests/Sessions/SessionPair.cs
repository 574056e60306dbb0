using MoqLite.Lite;
using MoqLite.Model;
using MoqLite.Session;
using MoqLite.Transport;
using MoqLite.Transport.Memory;

namespace MoqLite.Protocol.Tests.Sessions;

/// <summary>A server session on a relay origin and a client session on its own origin, over some transport.</summary>
internal sealed class SessionPair : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public SessionPair(LiteSession client, LiteSession server, MoqOrigin relay)
    {
        Relay = relay;
        ClientOrigin = client.Origin;
        Server = server;
        Client = client;
    }

    public MoqOrigin Relay { get; }

    public MoqOrigin ClientOrigin { get; }

    public LiteSession Server { get; }

    public LiteSession Client { get; }

    public static SessionPair InMemory(MoqOrigin? relay = null, string protocol = "moq-lite-05", MoqSessionOptions? serverOptions = null)
    {
        relay ??= new MoqOrigin();
        var (client, server) = MemoryTransport.CreatePair(protocol);
        return new SessionPair(
            LiteSession.Start(client, new MoqOrigin(), new MoqSessionOptions { AnnounceOnStart = false }),
            LiteSession.Start(server, relay, serverOptions),
            relay);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.CloseAsync();
        await Server.CloseAsync();
        await Task.WhenAll(Client.Completion, Server.Completion).WaitAsync(Timeout);
    }
}

internal static class ModelExtensions
{
    public static async Task<MoqBroadcast> WaitForBroadcastAsync(this MoqOrigin origin, string path)
    {
        using var watcher = origin.Watch(path);
        while (true)
        {
            var announcement = await watcher.Reader.ReadAsync().AsTask().WaitAsync(SessionPair.Timeout);
            if (announcement.Active && announcement.Path.Length == 0)
            {
                return announcement.Broadcast!;
            }
        }
    }

    public static async Task<List<string>> ReadStringsAsync(this GroupReader group)
    {
        var frames = new List<string>();
        while (await group.ReadFrameAsync().AsTask().WaitAsync(SessionPair.Timeout) is { } frame)
        {
            frames.Add(System.Text.Encoding.UTF8.GetString(frame.Payload.Span));
        }
        return frames;
    }

    public static void WriteStrings(this MoqGroup group, params string[] frames)
    {
        var timestamp = 0L;
        foreach (var frame in frames)
        {
            group.WriteFrame(System.Text.Encoding.UTF8.GetBytes(frame), timestamp += 10);
        }
    }
}
