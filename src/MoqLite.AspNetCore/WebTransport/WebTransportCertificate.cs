using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MoqLite.AspNetCore.WebTransport;

/// <summary>
/// The HTTP/3 certificate and its SHA-256 pin. Browsers accept a self-signed certificate for WebTransport only through
/// <c>serverCertificateHashes</c>, and only an ECDSA P-256 one valid for at most 14 days. Unless the application
/// supplies its own, one is generated for 10 days and replaced two days before it expires; new TLS handshakes and
/// the pin endpoint both see the replacement.
/// </summary>
internal sealed class WebTransportCertificate
{
    public static readonly TimeSpan Validity = TimeSpan.FromDays(10);
    public static readonly TimeSpan RenewBefore = TimeSpan.FromDays(2);

    private readonly TimeProvider _time;
    private readonly bool _generated;
    private readonly object _gate = new();
    private (X509Certificate2 Certificate, string Sha256Hex) _current;
    private int _endpointMapped;

    public WebTransportCertificate(X509Certificate2? certificate, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _generated = certificate is null;
        _current = Describe(certificate ?? CreateDevelopment(_time.GetUtcNow()));
    }

    /// <summary>The certificate for the next TLS handshake.</summary>
    public X509Certificate2 Certificate => Fresh().Certificate;

    /// <summary>Lowercase hex SHA-256 of the DER certificate, as @moq/net expects from <c>/certificate.sha256</c>.</summary>
    public string Sha256Hex => Fresh().Sha256Hex;

    /// <summary>True for the first caller only, so the pin endpoint is mapped once however many MOQ routes there are.</summary>
    public bool TryClaimEndpoint() => Interlocked.Exchange(ref _endpointMapped, 1) == 0;

    /// <summary>A self-signed ECDSA P-256 certificate for localhost, valid for <see cref="Validity"/> from <paramref name="now"/>.</summary>
    public static X509Certificate2 CreateDevelopment(DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddIpAddress(System.Net.IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        return request.CreateSelfSigned(now.AddMinutes(-5), now.Add(Validity));
    }

    private (X509Certificate2 Certificate, string Sha256Hex) Fresh()
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (_generated && _current.Certificate.NotAfter.ToUniversalTime() - now.UtcDateTime < RenewBefore)
            {
                _current = Describe(CreateDevelopment(now));
            }
            return _current;
        }
    }

    private static (X509Certificate2, string) Describe(X509Certificate2 certificate) =>
        (certificate, Convert.ToHexStringLower(SHA256.HashData(certificate.RawData)));
}
