using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Timeouts;
using MoqLite.Transport.WebSockets;

namespace MoqLite.AspNetCore.Endpoint;

/// <summary>
/// Completes a WebSocket handshake that <c>UseWebSockets</c> validated (<see cref="WebSocketManager.IsWebSocketRequest"/>)
/// and hands the upgraded connection to our <see cref="ServerWebSocket"/> instead of the framework's: its send path
/// takes QMux messages without copying them again. HTTP/1.1 upgrades answer 101 with the accept key (RFC 6455);
/// HTTP/2 extended CONNECT answers 200 (RFC 8441). No extension is offered back, so frames stay uncompressed. A host
/// with neither (TestServer's in-memory sockets) gets the framework's WebSocket.
/// </summary>
internal static class WebSocketHandshake
{
    private const string KeyGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    public static async Task<WebSocket> AcceptAsync(HttpContext context, string subProtocol)
    {
        var connect = context.Features.Get<IHttpExtendedConnectFeature>();
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        var extendedConnect = connect is { IsExtendedConnect: true };
        if (!extendedConnect && upgrade is not { IsUpgradableRequest: true })
        {
            return await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                SubProtocol = subProtocol,
                DangerousEnableCompression = false,
                KeepAliveInterval = TimeSpan.Zero,
            }).ConfigureAwait(false);
        }
        var response = context.Response.Headers;
        response.SecWebSocketProtocol = subProtocol;
        Stream stream;
        if (extendedConnect)
        {
            stream = await connect!.AcceptAsync().ConfigureAwait(false);
        }
        else
        {
            response.Connection = "Upgrade";
            response.Upgrade = "websocket";
            response.SecWebSocketAccept = AcceptKey(context.Request.Headers.SecWebSocketKey.ToString());
            stream = await upgrade!.UpgradeAsync().ConfigureAwait(false);
        }
        // A session lives as long as the peer wants: no request timeout applies once it is accepted.
        context.Features.Get<IHttpRequestTimeoutFeature>()?.DisableTimeout();
        return new ServerWebSocket(stream, subProtocol, context.Abort);
    }

    /// <summary>Sec-WebSocket-Accept: base64(SHA-1(key + the RFC's GUID)).</summary>
    internal static string AcceptKey(string key)
    {
#pragma warning disable CA5350 // RFC 6455 fixes SHA-1 here; the value proves a WebSocket handshake, not integrity.
        return Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + KeyGuid)));
#pragma warning restore CA5350
    }
}
