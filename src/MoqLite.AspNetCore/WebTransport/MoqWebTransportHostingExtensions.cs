using System.Net.Quic;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using MoqLite.AspNetCore;
using MoqLite.AspNetCore.WebTransport;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Turns on HTTP/3 WebTransport for MOQ Lite.</summary>
public static class MoqWebTransportHostingExtensions
{
    /// <summary>True when this machine can run HTTP/3 (System.Net.Quic found libmsquic).</summary>
    public static bool IsWebTransportSupported => QuicListener.IsSupported;

    /// <summary>
    /// Enables WebTransport for <c>MapMoqLite</c> in one call: Kestrel's experimental WebTransport switch, an HTTP/3
    /// listener (with a generated development certificate unless one is given) carrying MoqLite's connection hook,
    /// QUIC stream limits sized for one stream per group, and plain HTTP/1.1 on the same port number. Without QUIC
    /// support only the HTTP/1.1 listener is added, and clients fall back to WebSocket.
    /// </summary>
    public static IWebHostBuilder UseMoqLiteWebTransport(this IWebHostBuilder builder, Action<MoqWebTransportOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new MoqWebTransportOptions();
        configure?.Invoke(options);
        var http3 = IsWebTransportSupported;
        var connections = new WebTransportConnections();
        WebTransportCertificate? certificate = null;
        if (http3)
        {
            AppContext.SetSwitch("Microsoft.AspNetCore.Server.Kestrel.Experimental.WebTransportAndH3Datagrams", true);
            certificate = new WebTransportCertificate(options.Certificate);
            WebTransportEndpoint.SetQuicStreamLimits(builder, options.MaxStreams);
        }
        builder.ConfigureServices(services =>
        {
            services.AddSingleton(connections);
            if (certificate is not null)
            {
                services.AddSingleton(certificate);
            }
        });
        builder.ConfigureKestrel(kestrel =>
        {
            if (options.ListenHttp1 && options.Address is null)
            {
                kestrel.ListenLocalhost(options.Port, listen => listen.Protocols = HttpProtocols.Http1);
            }
            else if (options.ListenHttp1)
            {
                kestrel.Listen(options.Address!, options.Port, listen => listen.Protocols = HttpProtocols.Http1);
            }
            if (certificate is not null)
            {
                // One QUIC listener only: msquic binds the UDP port on every interface whatever the address.
                kestrel.Listen(options.Address ?? System.Net.IPAddress.Loopback, options.Port, listen =>
                {
                    listen.Protocols = HttpProtocols.Http3;
                    // A selector rather than a fixed certificate, so a rotated development certificate takes effect.
                    listen.UseHttps(new HttpsConnectionAdapterOptions { ServerCertificateSelector = (_, _) => certificate.Certificate });
                    ((IMultiplexedConnectionBuilder)listen).Use(connections.Wrap);
                });
            }
        });
        return builder;
    }
}
