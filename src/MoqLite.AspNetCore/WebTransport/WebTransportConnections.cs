using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace MoqLite.AspNetCore.WebTransport;

/// <summary>
/// The QUIC connections the HTTP/3 hook is pumping, by connection id (which Kestrel also gives the CONNECT request as
/// <c>HttpContext.Connection.Id</c>). Its presence in DI means the hook is installed.
/// </summary>
internal sealed class WebTransportConnections
{
    private readonly ConcurrentDictionary<string, WebTransportConnectionPump> _pumps = new(StringComparer.Ordinal);

    public WebTransportConnectionPump? Find(string connectionId) => _pumps.GetValueOrDefault(connectionId);

    /// <summary>The connection middleware: wraps each QUIC connection in a pump for as long as Kestrel runs it.</summary>
    public MultiplexedConnectionDelegate Wrap(MultiplexedConnectionDelegate next) => async connection =>
    {
        var pump = new WebTransportConnectionPump(connection);
        _pumps[connection.ConnectionId] = pump;
        try
        {
            await next(pump.KestrelView).ConfigureAwait(false);
        }
        finally
        {
            _pumps.TryRemove(connection.ConnectionId, out _);
            await pump.DisposeAsync().ConfigureAwait(false);
        }
    };
}
