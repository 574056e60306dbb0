using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MoqLite.AspNetCore.WebTransport;

/// <summary>
/// The HTTP/3 certificate and its SHA-256 pin. Browsers accept a self-signed certificate for WebTransport only through
/// <c>serverCertificateHashes</c>, and only an ECDSA P-256 one valid for at most 14 days; <see cref="CreateDevelopment"/>
/// makes such a certificate.
/// </summary>
internal sealed class WebTransportCertificate(X509Certificate2 certificate)
{
    private int _endpointMapped;

    public X509Certificate2 Certificate { get; } = certificate;

    /// <summary>Lowercase hex SHA-256 of the DER certificate, as @moq/net expects from <c>/certificate.sha256</c>.</summary>
    public string Sha256Hex { get; } = Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));

    /// <summary>True for the first caller only, so the pin endpoint is mapped once however many MOQ routes there are.</summary>
    public bool TryClaimEndpoint() => Interlocked.Exchange(ref _endpointMapped, 1) == 0;

    /// <summary>A fresh self-signed ECDSA P-256 certificate for localhost, valid for 10 days.</summary>
    public static X509Certificate2 CreateDevelopment()
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
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(10));
    }
}
