// The one file that touches Kestrel's preview WebTransport API (CA2252); everything else goes through the pump.
#pragma warning disable CA2252

using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MoqLite.AspNetCore.Authorization;
using MoqLite.AspNetCore.Endpoint;
using MoqLite.Lite;

namespace MoqLite.AspNetCore.WebTransport;

/// <summary>
/// Accepts a WebTransport session on the mapped route. Kestrel terminates HTTP/3 and the extended CONNECT (so routing,
/// authorization and CORS apply as usual); the version is negotiated with <c>WT-Available-Protocols</c> /
/// <c>WT-Protocol</c>; the session's streams flow through the connection pump installed by
/// <c>UseMoqLiteWebTransport</c>, never through Kestrel's own WebTransport stream handling.
/// </summary>
internal static partial class WebTransportEndpoint
{
    public static bool IsWebTransportRequest(HttpContext context) =>
        context.Features.Get<IHttpWebTransportFeature>()?.IsWebTransportRequest == true;

    public static async Task RunAsync(HttpContext context, MoqLiteEndpointHandler handler, string root, MoqRights rights, ILogger logger)
    {
        var pump = context.RequestServices.GetService<WebTransportConnections>()?.Find(context.Connection.Id);
        if (pump is null)
        {
            Log.HookMissing(logger, context.Connection.Id);
            context.Response.StatusCode = StatusCodes.Status501NotImplemented;
            await context.Response.WriteAsync("WebTransport is not enabled on this listener: call UseMoqLiteWebTransport() when building the host\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }
        var offered = ParseProtocols(context.Request.Headers["WT-Available-Protocols"]);
        var chosen = LiteVersions.All.Select(v => v.Alpn()).FirstOrDefault(offered.Contains);
        if (chosen is null)
        {
            Log.NoProtocol(logger, string.Join(", ", offered));
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        // Chromium only honours a quoted structured-field string, and only if it is set before AcceptAsync.
        context.Response.Headers["WT-Protocol"] = "\"" + chosen + "\"";
        var session = await context.Features.Get<IHttpWebTransportFeature>()!.AcceptAsync(context.RequestAborted).ConfigureAwait(false);
        var connection = new WebTransportMoqConnection(pump, session.SessionId, chosen, (code, _) => session.Abort((int)Math.Min(code, int.MaxValue)));
        await using (context.RequestAborted.Register(() => connection.PeerClosed("WebTransport session closed")).ConfigureAwait(false))
        {
            await handler.RunSessionAsync(connection, root, rights, context).ConfigureAwait(false);
        }
    }

    /// <summary>Raises Kestrel's per-connection QUIC stream limits (a preview API) for one stream per group.</summary>
    public static void SetQuicStreamLimits(IWebHostBuilder builder, int maxStreams) =>
        builder.UseQuic(quic =>
        {
            quic.MaxBidirectionalStreamCount = maxStreams;
            quic.MaxUnidirectionalStreamCount = maxStreams;
        });

    /// <summary>The strings of a structured-field list such as <c>"moq-lite-05", "moq-lite-04"</c>.</summary>
    internal static HashSet<string> ParseProtocols(string? header)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in (header ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var value = item.Split(';', 2)[0].Trim();
            if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
            {
                result.Add(value[1..^1]);
            }
        }
        return result;
    }

    private static partial class Log
    {
        [LoggerMessage(121, LogLevel.Error, "WebTransport request on connection {ConnectionId} refused: the HTTP/3 listener has no MoqLite connection hook (call UseMoqLiteWebTransport)", EventName = "WebTransportHookMissing")]
        public static partial void HookMissing(ILogger logger, string connectionId);

        [LoggerMessage(122, LogLevel.Information, "WebTransport request refused: WT-Available-Protocols offered no moq-lite version we speak ({Offered})", EventName = "WebTransportNoProtocol")]
        public static partial void NoProtocol(ILogger logger, string offered);
    }
}
