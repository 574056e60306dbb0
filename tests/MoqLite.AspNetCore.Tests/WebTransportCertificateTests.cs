using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MoqLite.AspNetCore.WebTransport;

namespace MoqLite.AspNetCore.Tests;

public class WebTransportCertificateTests
{
    [Fact]
    public void The_development_certificate_is_what_browsers_pin_and_is_replaced_before_it_expires()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var certificate = new WebTransportCertificate(null, clock);
        var first = certificate.Certificate;
        using (var key = first.GetECDsaPublicKey())
        {
            Assert.NotNull(key);
            Assert.Equal(ECCurve.NamedCurves.nistP256.Oid.Value, key.ExportParameters(false).Curve.Oid.Value);
        }
        Assert.True(first.NotAfter - first.NotBefore < TimeSpan.FromDays(14));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(first.RawData)), certificate.Sha256Hex);
        Assert.Matches("^[0-9a-f]{64}$", certificate.Sha256Hex);

        clock.Advance(TimeSpan.FromDays(7));
        Assert.Same(first, certificate.Certificate);
        clock.Advance(TimeSpan.FromDays(2));
        var second = certificate.Certificate;
        Assert.NotSame(first, second);
        Assert.True(second.NotAfter > first.NotAfter);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(second.RawData)), certificate.Sha256Hex);
    }

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
