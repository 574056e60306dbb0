using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MoqLite.Diagnostics;
using MoqLite.Lite;
using MoqLite.Model;
using MoqLite.Session;
using MoqLite.Transport.Quic;

namespace MoqLite.Samples.WebApp.Broadcasts;

/// <summary>Where <see cref="RawQuicService"/> listens.</summary>
public sealed record RawQuicEndpoint(int Port);

/// <summary>
/// Native QUIC for the console client: MOQ Lite straight over QUIC (ALPN moq-lite-05/04/03, no HTTP/3) on UDP port
/// <c>MoqLite:RawQuicPort</c> (default: the site's port + 1), serving the same origin as <c>/moq</c>. Only where
/// System.Net.Quic works; the certificate is a fresh self-signed one whose SHA-256 is logged for clients to pin.
/// </summary>
public sealed partial class RawQuicService(MoqOrigin origin, MoqMetrics metrics, RawQuicEndpoint endpoint, ILogger<RawQuicService> logger) : BackgroundService
{
    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!QuicTransport.IsSupported)
        {
            Log.Unavailable(logger);
            return;
        }
        var port = endpoint.Port;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(10));
        QuicMoqListener listener;
        try
        {
            listener = await QuicTransport.ListenAsync(new IPEndPoint(IPAddress.Loopback, port), certificate, cancellationToken: stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Net.Quic.QuicException or System.Net.Sockets.SocketException)
        {
            // A sample should still serve its site when the extra port is taken.
            Log.CannotListen(logger, port, ex.Message);
            return;
        }
        await using var _ = listener;
        Log.Listening(logger, port, Convert.ToHexStringLower(SHA256.HashData(certificate.RawData)));
        var sessions = new List<LiteSession>();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var connection = await listener.AcceptAsync(stoppingToken).ConfigureAwait(false);
                sessions.RemoveAll(s => s.Completion.IsCompleted);
                sessions.Add(LiteSession.Start(connection, origin, new MoqSessionOptions { Metrics = metrics }, logger));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            foreach (var session in sessions)
            {
                await session.CloseAsync(MoqErrorCode.Cancel, "server stopping").ConfigureAwait(false);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Raw QUIC MOQ on moqt://localhost:{Port}/ (certificate sha256 {Sha256})", EventName = "RawQuicListening")]
        public static partial void Listening(ILogger logger, int port, string sha256);

        [LoggerMessage(3, LogLevel.Warning, "Raw QUIC MOQ is off: cannot listen on UDP port {Port}: {Reason}", EventName = "RawQuicCannotListen")]
        public static partial void CannotListen(ILogger logger, int port, string reason);

        [LoggerMessage(2, LogLevel.Information, "Raw QUIC MOQ is off: System.Net.Quic is not supported here (it needs libmsquic)", EventName = "RawQuicUnavailable")]
        public static partial void Unavailable(ILogger logger);
    }
}
