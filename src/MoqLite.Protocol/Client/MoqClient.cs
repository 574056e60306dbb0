using System.Net.WebSockets;
using Microsoft.Extensions.Logging;
using MoqLite.Lite;
using MoqLite.Model;
using MoqLite.Session;
using MoqLite.Transport;
using MoqLite.Transport.QMux;
using MoqLite.Transport.Quic;

namespace MoqLite.Client;

/// <summary>Options for <see cref="MoqClient"/>.</summary>
public sealed class MoqClientOptions
{
    /// <summary>The local origin: broadcasts published here are offered to the server. A fresh one by default.</summary>
    public MoqOrigin Origin { get; set; } = new();

    /// <summary>
    /// Session limits and policy. By default the client does not ask for announcements until asked, and keeps only
    /// the newest group of each track it receives (raise <see cref="MoqSessionOptions.MaxCachedGroups"/> to relay).
    /// </summary>
    public MoqSessionOptions Session { get; set; } = new() { AnnounceOnStart = false, MaxCachedGroups = 1 };

    /// <summary>QMux windows and timers for WebSocket connections.</summary>
    public QMuxOptions QMux { get; set; } = new();

    /// <summary>Lite versions to offer, most preferred first.</summary>
    public IReadOnlyList<LiteVersion> Versions { get; set; } = LiteVersions.All;

    /// <summary>QMux drafts to offer over WebSocket, most preferred first.</summary>
    public IReadOnlyList<QMuxVersion> QMuxDrafts { get; set; } = QMuxSubprotocols.Preference;

    /// <summary>Adjusts the WebSocket before it connects (headers, certificates, proxy).</summary>
    public Action<ClientWebSocketOptions>? ConfigureWebSocket { get; set; }

    /// <summary>Validates raw QUIC server certificates; null uses the system's validation (or <see cref="QuicCertificateSha256"/>).</summary>
    public System.Net.Security.RemoteCertificateValidationCallback? QuicCertificateValidation { get; set; }

    /// <summary>
    /// Accepts a raw QUIC server whose certificate has this SHA-256 (hex), as browsers pin a development certificate
    /// with <c>serverCertificateHashes</c>; used when <see cref="QuicCertificateValidation"/> is null.
    /// </summary>
    public string? QuicCertificateSha256 { get; set; }

    internal System.Net.Security.RemoteCertificateValidationCallback? EffectiveQuicValidation =>
        QuicCertificateValidation ?? (QuicCertificateSha256 is { } pin
            ? (_, certificate, _, _) => certificate is not null
                && string.Equals(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(certificate.GetRawCertData())), pin, StringComparison.OrdinalIgnoreCase)
            : null);

    /// <summary>Logger for the session.</summary>
    public ILogger? Logger { get; set; }
}

/// <summary>
/// Connects to a MOQ Lite server: <c>ws://</c>, <c>wss://</c>, <c>http://</c> and <c>https://</c> use QMux over WebSocket;
/// <c>moqt://host:port/path</c> uses raw QUIC (when the platform supports it).
/// </summary>
public static class MoqClient
{
    /// <summary>Connects and starts a session; the returned session publishes from and subscribes into the options' origin.</summary>
    public static async Task<MoqSession> ConnectAsync(Uri uri, MoqClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        options ??= new MoqClientOptions();
        MoqTransportConnection connection = uri.Scheme switch
        {
            "ws" or "wss" or "http" or "https" => await ConnectWebSocketAsync(uri, options, cancellationToken).ConfigureAwait(false),
            "moqt" when QuicTransport.IsSupported => await QuicTransport.ConnectAsync(uri, options.Versions, options.EffectiveQuicValidation, cancellationToken).ConfigureAwait(false),
            "moqt" => throw new PlatformNotSupportedException("QUIC is not available here: System.Net.Quic needs libmsquic."),
            _ => throw new ArgumentException($"Unsupported scheme '{uri.Scheme}': use ws, wss, http, https or moqt.", nameof(uri)),
        };
        var session = options.Session;
        if (connection.TransportName == "quic")
        {
            // Raw QUIC carries no request URI: the path and query travel in SETUP.
            session = session.WithSetupPath(uri.PathAndQuery.TrimStart('/'));
        }
        return LiteSession.Start(connection, options.Origin, session, options.Logger);
    }

    /// <summary>
    /// Starts a client session over a WebSocket that is already open (for example from a test server), whose
    /// negotiated subprotocol names the QMux draft and lite version.
    /// </summary>
    public static MoqSession Start(WebSocket socket, MoqClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(socket);
        options ??= new MoqClientOptions();
        return LiteSession.Start(StartQMux(socket, options), options.Origin, options.Session, options.Logger);
    }

    private static QMuxConnection StartQMux(WebSocket socket, MoqClientOptions options)
    {
        if (socket.SubProtocol is not { } selected || !QMuxSubprotocols.TryParse(selected, out var draft, out var alpn) || !LiteVersions.TryParseAlpn(alpn, out _))
        {
            socket.Abort();
            socket.Dispose();
            throw new MoqException(MoqErrorCode.UnknownAlpn, $"the server selected subprotocol '{socket.SubProtocol}', which is not a qmux moq-lite version we offered");
        }
        return QMuxConnection.Start(socket, isServer: false, draft, alpn, options.QMux);
    }

    private static async Task<MoqTransportConnection> ConnectWebSocketAsync(Uri uri, MoqClientOptions options, CancellationToken cancellationToken)
    {
        var builder = new UriBuilder(uri) { Scheme = uri.Scheme is "https" or "wss" ? "wss" : "ws" };
        var socket = new ClientWebSocket();
        foreach (var protocol in QMuxSubprotocols.Offer(options.Versions, options.QMuxDrafts))
        {
            socket.Options.AddSubProtocol(protocol);
        }
        socket.Options.DangerousDeflateOptions = null;
        // QMux has its own keep-alive (QX_PING); WebSocket pings keep intermediaries from timing out.
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(5);
        options.ConfigureWebSocket?.Invoke(socket.Options);
        try
        {
            await socket.ConnectAsync(builder.Uri, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return StartQMux(socket, options);
    }
}
