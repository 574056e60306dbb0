using System.Net.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoqLite.AspNetCore.Authorization;
using MoqLite.AspNetCore.WebTransport;
using MoqLite.Diagnostics;
using MoqLite.Lite;
using MoqLite.Model;
using MoqLite.Session;
using MoqLite.Transport;
using MoqLite.Transport.QMux;

namespace MoqLite.AspNetCore.Endpoint;

/// <summary>
/// Runs one MOQ session per request on the mapped route: WebTransport (HTTP/3 extended CONNECT) or a WebSocket
/// carrying QMux. The path below the route is the session's namespace root; rights come from the token or claims.
/// </summary>
internal sealed partial class MoqLiteEndpointHandler(
    IOptions<MoqLiteOptions> options,
    MoqOrigin origin,
    MoqMetrics metrics,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers,
    TimeProvider? time = null)
{
    /// <summary>The route value holding the path below the endpoint's pattern.</summary>
    public const string PathRouteValue = "moqPath";

    private readonly ILogger _logger = loggers.CreateLogger("MoqLite.AspNetCore.Endpoint");
    private readonly ILogger _sessionLogger = loggers.CreateLogger("MoqLite.Session");
    private int _sessions;

    public async Task ExecuteAsync(HttpContext context)
    {
        string root;
        try
        {
            root = MoqPath.Normalize(context.GetRouteValue(PathRouteValue) as string ?? string.Empty);
        }
        catch (MoqException ex)
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, ex.Message).ConfigureAwait(false);
            return;
        }
        var (rights, status, error) = Authorize(context, root);
        if (rights is null)
        {
            await RefuseAsync(context, status, error).ConfigureAwait(false);
            return;
        }
        var webTransport = WebTransportEndpoint.IsWebTransportRequest(context);
        if (webTransport || context.WebSockets.IsWebSocketRequest)
        {
            if (Interlocked.Increment(ref _sessions) > options.Value.MaxSessions)
            {
                Interlocked.Decrement(ref _sessions);
                await RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, $"this server holds its maximum of {options.Value.MaxSessions} sessions").ConfigureAwait(false);
                return;
            }
            try
            {
                await (webTransport
                    ? WebTransportEndpoint.RunAsync(context, this, root, rights, _logger)
                    : RunWebSocketAsync(context, root, rights)).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _sessions);
            }
        }
        else
        {
            context.Response.Headers.Upgrade = "websocket";
            await RefuseAsync(context, StatusCodes.Status426UpgradeRequired,
                $"MOQ Lite endpoint: connect with WebTransport, or with a WebSocket offering {options.Value.WebSocketSubprotocols[0]}").ConfigureAwait(false);
        }
    }

    private async Task RunWebSocketAsync(HttpContext context, string root, MoqRights rights)
    {
        var accepted = options.Value.WebSocketSubprotocols;
        var offered = context.WebSockets.WebSocketRequestedProtocols;
        var selected = accepted.FirstOrDefault(candidate => offered.Contains(candidate, StringComparer.Ordinal));
        if (selected is null || !QMuxSubprotocols.TryParse(selected, out var draft, out var alpn))
        {
            var what = offered.Count == 0 ? "none" : string.Join(", ", offered);
            await RefuseAsync(context, StatusCodes.Status400BadRequest,
                $"no acceptable WebSocket subprotocol (offered: {what}); this server accepts {string.Join(", ", accepted.Take(3))}, …").ConfigureAwait(false);
            return;
        }
        using var socket = await WebSocketHandshake.AcceptAsync(context, selected).ConfigureAwait(false);
        var connection = QMuxConnection.Start(socket, isServer: true, draft, alpn, options.Value.QMux);
        await RunSessionAsync(connection, root, rights, context).ConfigureAwait(false);
        if (socket.State == WebSocketState.Open)
        {
            socket.Abort();
        }
    }

    /// <summary>Runs a lite session on an upgraded connection until either side ends it or the host stops.</summary>
    internal async Task RunSessionAsync(MoqTransportConnection connection, string root, MoqRights rights, HttpContext context)
    {
        var sessionOptions = options.Value.Session.Clone();
        sessionOptions.Root = root;
        sessionOptions.Metrics = metrics;
        sessionOptions.AnnounceOnStart = options.Value.Session.AnnounceOnStart && (rights.Publish.Count > 0);
        if (!ReferenceEquals(rights, MoqRights.All))
        {
            sessionOptions.CanPublish = rights.MayPublish;
            sessionOptions.CanSubscribe = rights.MaySubscribe;
        }
        var session = LiteSession.Start(connection, origin, sessionOptions, _sessionLogger);
        Log.SessionAccepted(_logger, connection.TransportName, session.Protocol, root, context.Connection.Id);
        await using (context.RequestAborted.Register(Close, session).ConfigureAwait(false))
        await using (lifetime.ApplicationStopping.Register(Close, session).ConfigureAwait(false))
        {
            await session.Completion.ConfigureAwait(false);
        }

        static void Close(object? state) => _ = ((LiteSession)state!).CloseAsync(MoqErrorCode.Cancel, "server shutting down").AsTask();
    }

    private (MoqRights? Rights, int Status, string Error) Authorize(HttpContext context, string root)
    {
        var tokens = options.Value.Tokens;
        MoqRights? rights = null;
        if (context.Request.Query.TryGetValue(tokens.QueryParameter, out var values) && values.Count > 0)
        {
            if (!MoqTokenValidator.TryValidate(values[0]!, tokens, (time ?? TimeProvider.System).GetUtcNow(), out var granted, out var error))
            {
                return (null, StatusCodes.Status401Unauthorized, "invalid token: " + error);
            }
            rights = granted;
        }
        else if (MoqClaimTypes.RightsFrom(context.User) is { } claimed)
        {
            rights = claimed;
        }
        else if (tokens.Required)
        {
            return (null, StatusCodes.Status401Unauthorized, $"a token is required (query parameter '{tokens.QueryParameter}')");
        }
        rights ??= MoqRights.All;
        if (!rights.Reaches(root))
        {
            return (null, StatusCodes.Status403Forbidden, $"the token grants nothing at '{root}'");
        }
        return (rights, 0, string.Empty);
    }

    private async Task RefuseAsync(HttpContext context, int status, string reason)
    {
        Log.RequestRefused(_logger, context.Request.Path, status, reason);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(reason + "\n", context.RequestAborted).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(101, LogLevel.Information, "MOQ session over {Transport} ({Protocol}) at root '{Root}' on connection {ConnectionId}", EventName = "SessionAccepted")]
        public static partial void SessionAccepted(ILogger logger, string transport, string protocol, string root, string connectionId);

        [LoggerMessage(102, LogLevel.Information, "MOQ request to {Path} refused with {Status}: {Reason}", EventName = "RequestRefused")]
        public static partial void RequestRefused(ILogger logger, PathString path, int status, string reason);
    }
}
