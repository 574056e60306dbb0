using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;

namespace MoqLite.AspNetCore.Authorization;

/// <summary>A key that may sign MOQ tokens: an HS256 shared secret or an ES256 (P-256) public key.</summary>
public sealed class MoqTokenKey
{
    private readonly byte[]? _secret;
    private readonly ECDsa? _publicKey;

    private MoqTokenKey(string algorithm, string? keyId, byte[]? secret, ECDsa? publicKey)
    {
        Algorithm = algorithm;
        KeyId = keyId;
        _secret = secret;
        _publicKey = publicKey;
    }

    /// <summary>The JWS algorithm: <c>HS256</c> or <c>ES256</c>.</summary>
    public string Algorithm { get; }

    /// <summary>The key id a token's <c>kid</c> header must name, or null to match any token of this algorithm.</summary>
    public string? KeyId { get; }

    /// <summary>An HS256 key from a shared secret of at least 32 bytes.</summary>
    public static MoqTokenKey Hs256(ReadOnlySpan<byte> secret, string? keyId = null)
    {
        if (secret.Length < 32)
        {
            throw new ArgumentException("An HS256 secret must be at least 32 bytes.", nameof(secret));
        }
        return new MoqTokenKey("HS256", keyId, secret.ToArray(), null);
    }

    /// <summary>An ES256 key from a P-256 public (or private) key; only the public part is kept.</summary>
    public static MoqTokenKey Es256(ECDsa key, string? keyId = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        var parameters = key.ExportParameters(includePrivateParameters: false);
        if (parameters.Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
        {
            throw new ArgumentException("An ES256 key must be on the P-256 curve.", nameof(key));
        }
        return new MoqTokenKey("ES256", keyId, null, ECDsa.Create(parameters));
    }

    /// <summary>
    /// A key from a JSON Web Key, as moq-token generates: <c>{"kty":"oct","k":…}</c> for HS256 or
    /// <c>{"kty":"EC","crv":"P-256","x":…,"y":…}</c> for ES256.
    /// </summary>
    public static MoqTokenKey FromJwk(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var kid = root.TryGetProperty("kid", out var k) ? k.GetString() : null;
        var kty = root.TryGetProperty("kty", out var t) ? t.GetString() : null;
        switch (kty)
        {
            case "oct":
                return Hs256(Base64Url(root, "k"), kid);
            case "EC" when root.TryGetProperty("crv", out var crv) && crv.GetString() == "P-256":
                using (var ecdsa = ECDsa.Create(new ECParameters
                {
                    Curve = ECCurve.NamedCurves.nistP256,
                    Q = new ECPoint { X = Base64Url(root, "x"), Y = Base64Url(root, "y") },
                }))
                {
                    return Es256(ecdsa, kid);
                }
            default:
                throw new ArgumentException($"Unsupported JWK (kty '{kty}'): use an 'oct' key for HS256 or an 'EC' P-256 key for ES256.", nameof(json));
        }
    }

    internal bool Verify(ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
    {
        if (_secret is not null)
        {
            Span<byte> expected = stackalloc byte[32];
            HMACSHA256.HashData(_secret, signingInput, expected);
            return CryptographicOperations.FixedTimeEquals(expected, signature);
        }
        return _publicKey!.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    private static byte[] Base64Url(JsonElement jwk, string member) =>
        jwk.TryGetProperty(member, out var value) && value.GetString() is { } text
            ? WebEncoders.Base64UrlDecode(text)
            : throw new ArgumentException($"The JWK has no '{member}'.", nameof(jwk));
}
