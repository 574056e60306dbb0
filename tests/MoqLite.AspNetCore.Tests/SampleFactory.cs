using System.Net.WebSockets;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using MoqLite.Client;
using MoqLite.Model;
using MoqLite.Session;
using MoqLite.Transport.QMux;

namespace MoqLite.AspNetCore.Tests;

/// <summary>Clients for the sample app on TestServer, through TestServer's WebSocket client.</summary>
internal static class TestServerClients
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static MoqOrigin Origin(this WebApplicationFactory<Program> factory) => factory.Services.GetRequiredService<MoqOrigin>();

    /// <summary>A factory with services replaced or configured for one test.</summary>
    public static WebApplicationFactory<Program> With(this WebApplicationFactory<Program> factory, Action<IServiceCollection> services) =>
        factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services));

    /// <summary>Opens a WebSocket to <paramref name="path"/> offering <paramref name="subprotocols"/> (every supported one by default).</summary>
    public static async Task<WebSocket> OpenWebSocketAsync(this WebApplicationFactory<Program> factory, string path, params string[] subprotocols)
    {
        var client = factory.Server.CreateWebSocketClient();
        foreach (var subprotocol in subprotocols.Length > 0 ? subprotocols : QMuxSubprotocols.Offer())
        {
            client.SubProtocols.Add(subprotocol);
        }
        return await client.ConnectAsync(new Uri(factory.Server.BaseAddress, path), CancellationToken.None).WaitAsync(Timeout);
    }

    /// <summary>A .NET client session at <paramref name="path"/> with its own origin.</summary>
    public static async Task<MoqSession> ConnectAsync(this WebApplicationFactory<Program> factory, string path, MoqOrigin? origin = null) =>
        MoqClient.Start(await factory.OpenWebSocketAsync(path), new MoqClientOptions { Origin = origin ?? new MoqOrigin() });

    public static async Task<MoqBroadcast> WaitForBroadcastAsync(this MoqOrigin origin, string path)
    {
        using var watcher = origin.Watch(path);
        while (true)
        {
            var announcement = await watcher.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
            if (announcement.Active && announcement.Path.Length == 0)
            {
                return announcement.Broadcast!;
            }
        }
    }

    public static async Task<string> ReadTextFrameAsync(this GroupReader group)
    {
        var frame = await group.ReadFrameAsync().AsTask().WaitAsync(Timeout);
        Assert.NotNull(frame);
        return System.Text.Encoding.UTF8.GetString(frame.Value.Payload.Span);
    }
}
