using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using MoqLite.AspNetCore.Tests.Interop;
using MoqLite.AspNetCore.WebTransport;
using MoqLite.Model;
using MoqLite.Samples.WebApp.Broadcasts;

namespace MoqLite.AspNetCore.Tests.Browser;

/// <summary>
/// MapMoqLite with UseMoqLiteWebTransport on a real Kestrel: HTTP/1.1 (TCP) and HTTP/3 (UDP) on one free port number,
/// plus a test page at /test/ that loads the bundled reference client.
/// </summary>
internal sealed class WebTransportServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebTransportServer(WebApplication app, int port)
    {
        _app = app;
        Origin = new Uri($"http://127.0.0.1:{port}/");
    }

    public Uri Origin { get; }

    public Uri Moq => new(Origin, "moq");

    public Uri Page => new(Origin, "test/");

    public MoqOrigin Relay => _app.Services.GetRequiredService<MoqOrigin>();

    /// <summary>
    /// Starts the server; with <paramref name="hook"/> false, HTTP/3 and WebTransport are turned on by hand but
    /// without MoqLite's connection hook, as an application that forgot UseMoqLiteWebTransport would.
    /// </summary>
    public static async Task<WebTransportServer> StartAsync(bool hook = true, ILoggerProvider? logs = null)
    {
        var bundle = await NodeHarness.EnsureBrowserBundleAsync();
        var port = FreePortForTcpAndUdp();
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }
        builder.Services.AddSingleton(TimeProvider.System);
        // Kestrel waits for HTTP/3 connections to drain on stop; the browser is gone by then.
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.Services.AddMoqLite().AddBroadcast("clock", clock => clock.AddTrack<ClockTrack>("seconds"));
        if (hook)
        {
            builder.WebHost.UseMoqLiteWebTransport(options => options.Port = port);
        }
        else
        {
            AppContext.SetSwitch("Microsoft.AspNetCore.Server.Kestrel.Experimental.WebTransportAndH3Datagrams", true);
            var certificate = new WebTransportCertificate(null);
            builder.Services.AddSingleton(certificate);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http1);
                kestrel.Listen(IPAddress.Loopback, port, listen =>
                {
                    listen.Protocols = HttpProtocols.Http3;
                    listen.UseHttps(certificate.Certificate);
                });
            });
        }
        var app = builder.Build();
        app.MapGet("/test/", () => Results.Content("<!doctype html><script type=\"module\" src=\"moq.js\"></script>", "text/html"));
        app.MapGet("/test/moq.js", () => Results.File(bundle, "text/javascript"));
        app.MapMoqLite("/moq");
        await app.StartAsync();
        return new WebTransportServer(app, port);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>
    /// A port number free for both TCP and UDP on loopback, since HTTP/1.1 and HTTP/3 share it; with
    /// <paramref name="alsoUdpNext"/>, the next port is free for UDP too (the sample's raw QUIC listener).
    /// </summary>
    public static int FreePortForTcpAndUdp(bool alsoUdpNext = false)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            using var tcp = new TcpListener(IPAddress.Loopback, 0);
            tcp.Start();
            var port = ((IPEndPoint)tcp.LocalEndpoint).Port;
            try
            {
                // msquic binds every interface, so check the wildcard address.
                using var udp = new UdpClient(new IPEndPoint(IPAddress.Any, port));
                using var next = alsoUdpNext ? new UdpClient(new IPEndPoint(IPAddress.Any, port + 1)) : null;
                return port;
            }
            catch (SocketException)
            {
                // Taken for UDP: try another.
            }
        }
        throw new InvalidOperationException("no port free for both TCP and UDP");
    }
}
