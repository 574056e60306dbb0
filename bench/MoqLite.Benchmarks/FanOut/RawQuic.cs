using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MoqLite.Lite;
using MoqLite.Model;
using MoqLite.Session;
using MoqLite.Transport.Quic;

namespace MoqLite.Benchmarks.FanOut;

/// <summary>
/// The raw QUIC side of the <c>moqlite-quic</c> mode: a listener with a fresh self-signed certificate (subscribers pin
/// its SHA-256) running one lite session per connection on the server's origin.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[System.Runtime.Versioning.SupportedOSPlatform("windows")]
[System.Runtime.Versioning.SupportedOSPlatform("osx")]
internal sealed class RawQuic : IAsyncDisposable
{
    private readonly QuicMoqListener _listener;
    private readonly X509Certificate2 _certificate;
    private readonly Task _accepting;
    private readonly List<LiteSession> _sessions = [];

    private RawQuic(QuicMoqListener listener, X509Certificate2 certificate, MoqOrigin origin, CancellationToken stop)
    {
        _listener = listener;
        _certificate = certificate;
        _accepting = AcceptAsync(origin, stop);
    }

    public string CertificateSha256 => Convert.ToHexStringLower(SHA256.HashData(_certificate.RawData));

    public static async Task<RawQuic> StartAsync(MoqOrigin origin, int port, CancellationToken stop)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var listener = await QuicTransport.ListenAsync(new IPEndPoint(IPAddress.Loopback, port), certificate, cancellationToken: stop).ConfigureAwait(false);
        return new RawQuic(listener, certificate, origin, stop);
    }

    public async ValueTask DisposeAsync()
    {
        await _listener.DisposeAsync().ConfigureAwait(false);
        await _accepting.ConfigureAwait(false);
        foreach (var session in _sessions)
        {
            await session.CloseAsync(MoqErrorCode.Cancel, "server stopping").ConfigureAwait(false);
        }
        _certificate.Dispose();
    }

    private async Task AcceptAsync(MoqOrigin origin, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                var connection = await _listener.AcceptAsync(stop).ConfigureAwait(false);
                _sessions.Add(LiteSession.Start(connection, origin, new MoqSessionOptions { MaxGroupsInFlight = 16 }));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or System.Net.Quic.QuicException)
        {
            // Stopping.
        }
    }
}
