using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace MoqLite.AspNetCore;

/// <summary>How <c>UseMoqLiteWebTransport</c> sets up Kestrel's listeners.</summary>
public sealed class MoqWebTransportOptions
{
    /// <summary>
    /// The address to listen on; null (the default) means localhost: HTTP/1.1 on both loopback addresses and
    /// HTTP/3 on 127.0.0.1.
    /// </summary>
    public IPAddress? Address { get; set; }

    /// <summary>
    /// The port number, used for HTTP/3 over UDP and, when <see cref="ListenHttp1"/> is set, plain HTTP/1.1 over TCP
    /// (pages, WebSocket and the certificate pin). Default 5000.
    /// </summary>
    public int Port { get; set; } = 5000;

    /// <summary>Also listen for plain HTTP/1.1 on TCP at the same port number. Default true.</summary>
    public bool ListenHttp1 { get; set; } = true;

    /// <summary>
    /// The HTTP/3 certificate. When null a self-signed ECDSA P-256 certificate valid for 10 days is generated and
    /// browsers pin it through <c>/certificate.sha256</c>.
    /// </summary>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>
    /// Streams of each direction a client may have open at once on one QUIC connection. A publisher opens one stream
    /// per group, so Kestrel's default of 10 (3 of them held by the browser's HTTP/3 streams) is far too low. Default 1000.
    /// </summary>
    public int MaxStreams { get; set; } = 1000;
}
