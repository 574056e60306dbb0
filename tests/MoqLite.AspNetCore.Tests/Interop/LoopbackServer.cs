using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MoqLite.Model;
using MoqLite.Samples.WebApp.Broadcasts;

namespace MoqLite.AspNetCore.Tests.Interop;

/// <summary>A real Kestrel on 127.0.0.1 and a free port serving MapMoqLite("/moq") with the sample's clock.</summary>
internal sealed class LoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LoopbackServer(WebApplication app, Uri uri)
    {
        _app = app;
        Uri = uri;
    }

    /// <summary>The MOQ endpoint, ending in a slash: <c>http://127.0.0.1:port/moq/</c>.</summary>
    public Uri Uri { get; }

    public MoqOrigin Origin => _app.Services.GetRequiredService<MoqOrigin>();

    /// <param name="configure">MOQ options for the endpoint.</param>
    /// <param name="protocols">HTTP/2 alone serves cleartext HTTP/2 (prior knowledge), as h2c clients expect.</param>
    public static async Task<LoopbackServer> StartAsync(Action<MoqLiteOptions>? configure = null, HttpProtocols protocols = HttpProtocols.Http1AndHttp2)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = protocols));
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddMoqLite(configure)
            .AddBroadcast("clock", clock => clock.AddTrack<ClockTrack>("seconds"));
        var app = builder.Build();
        app.MapMoqLite("/moq");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new LoopbackServer(app, new Uri(address + "/moq/"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
