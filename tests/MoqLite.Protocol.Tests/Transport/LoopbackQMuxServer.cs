using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MoqLite.Lite;
using MoqLite.Model;
using MoqLite.Session;
using MoqLite.Transport.QMux;

namespace MoqLite.Protocol.Tests.Transport;

/// <summary>
/// A minimal WebSocket server on 127.0.0.1 and a free port that runs QMux + a lite session per connection,
/// rooted at the request path. Test infrastructure only: the product endpoint is MapMoqLite.
/// </summary>
internal sealed class LoopbackQMuxServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<LiteSession> _sessions = Channel.CreateUnbounded<LiteSession>();

    private LoopbackQMuxServer(WebApplication app) => _app = app;

    public Uri Uri { get; private set; } = null!;

    public static async Task<LoopbackQMuxServer> StartAsync(MoqOrigin relay, MoqSessionOptions? options = null, QMuxOptions? qmux = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new LoopbackQMuxServer(app);
        app.UseWebSockets();
        app.Run(async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
                return;
            }
            var selected = QMuxSubprotocols.Select(context.WebSockets.WebSocketRequestedProtocols);
            if (selected is null || !QMuxSubprotocols.TryParse(selected, out var draft, out var alpn))
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }
            using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = selected, DangerousEnableCompression = false });
            var connection = QMuxConnection.Start(socket, isServer: true, draft, alpn, qmux);
            var sessionOptions = new MoqSessionOptions
            {
                Root = context.Request.Path.Value ?? string.Empty,
                MaxGroupsInFlight = options?.MaxGroupsInFlight ?? 8,
                MaxSubscriptions = options?.MaxSubscriptions ?? 1000,
                MaxAnnouncements = options?.MaxAnnouncements ?? 1000,
                MaxCachedGroups = options?.MaxCachedGroups ?? 64,
                CanPublish = options?.CanPublish,
                CanSubscribe = options?.CanSubscribe,
            };
            var session = LiteSession.Start(connection, relay, sessionOptions);
            server._sessions.Writer.TryWrite(session);
            await session.Completion;
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.Uri = new Uri(address.Replace("http://", "ws://", StringComparison.Ordinal) + "/");
        return server;
    }

    /// <summary>The server session of the next connection.</summary>
    public async Task<LiteSession> NextSessionAsync() => await _sessions.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
