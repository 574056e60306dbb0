using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MoqLite.AspNetCore.Tests;

/// <summary>Signs moq-token style JWTs for tests.</summary>
internal static class Tokens
{
    public static string Hs256(byte[] secret, object claims) =>
        Sign("HS256", claims, input => HMACSHA256.HashData(secret, input));

    public static string Es256(ECDsa key, object claims) =>
        Sign("ES256", claims, input => key.SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

    public static long In(TimeSpan from) => DateTimeOffset.UtcNow.Add(from).ToUnixTimeSeconds();

    private static string Sign(string algorithm, object claims, Func<byte[], byte[]> sign)
    {
        var header = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(new { alg = algorithm, typ = "JWT" }));
        var payload = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = Base64Url.EncodeToString(sign(Encoding.ASCII.GetBytes(header + "." + payload)));
        return $"{header}.{payload}.{signature}";
    }
}
