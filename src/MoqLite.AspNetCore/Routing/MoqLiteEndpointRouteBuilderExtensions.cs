using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using MoqLite.AspNetCore;
using MoqLite.AspNetCore.Endpoint;
using MoqLite.AspNetCore.WebTransport;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the MOQ Lite endpoint.</summary>
public static class MoqLiteEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Serves MOQ Lite at <paramref name="pattern"/> and every path below it, over WebTransport and over WebSocket
    /// (QMux). The path below the pattern is the session's namespace root: a client at <c>/moq/room1</c> that
    /// publishes <c>alice</c> appears as <c>room1/alice</c> to a client at <c>/moq</c>. With WebTransport enabled,
    /// <c>GET /certificate.sha256</c> serves the certificate pin browsers need.
    /// </summary>
    public static MoqLiteEndpointConventionBuilder MapMoqLite(this IEndpointRouteBuilder endpoints, string pattern)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);
        if (endpoints.ServiceProvider.GetService<MoqLiteMarkerService>() is null)
        {
            throw new InvalidOperationException(
                "Unable to find the required services. Add them by calling 'builder.Services.AddMoqLite()' before mapping the MOQ endpoint.");
        }
        var handler = endpoints.ServiceProvider.GetRequiredService<MoqLiteEndpointHandler>();
        // A WebSocket upgrade needs the WebSockets middleware; run it on this endpoint only, as SignalR does.
        var app = endpoints.CreateApplicationBuilder();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        app.Run(handler.ExecuteAsync);
        var route = RoutePatternFactory.Parse(pattern.TrimEnd('/') + "/{**" + MoqLiteEndpointHandler.PathRouteValue + "}");
        var endpoint = endpoints.Map(route, app.Build()).WithDisplayName("MoqLite " + pattern);

        if (endpoints.ServiceProvider.GetService<WebTransportCertificate>() is { } certificate && certificate.TryClaimEndpoint())
        {
            endpoints.MapGet("/certificate.sha256", (HttpContext context) =>
            {
                // @moq/net fetches the pin from the page's origin or another: let any origin read it.
                context.Response.Headers.AccessControlAllowOrigin = "*";
                return Results.Text(certificate.Sha256Hex, "text/plain");
            }).WithDisplayName("MoqLite certificate pin");
        }
        return new MoqLiteEndpointConventionBuilder(endpoint);
    }
}
