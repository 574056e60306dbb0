using System.Security.Cryptography;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using MoqLite.AspNetCore.Authorization;
using MoqLite.Model;

namespace MoqLite.AspNetCore.Tests;

/// <summary>Per-session publish and subscribe rights from <c>?jwt=</c> tokens (HS256 and ES256).</summary>
public sealed class AuthorizationTests : IClassFixture<WebApplicationFactory<Program>>, IDisposable
{
    private static readonly byte[] Secret = RandomNumberGenerator.GetBytes(32);
    private readonly ECDsa _signer = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly WebApplicationFactory<Program> _factory;

    public AuthorizationTests(WebApplicationFactory<Program> factory)
    {
        _factory = factory.With(services => services.Configure<MoqLiteOptions>(options =>
        {
            options.Tokens.Required = true;
            options.Tokens.Keys.Add(MoqTokenKey.Hs256(Secret));
            options.Tokens.Keys.Add(MoqTokenKey.Es256(_signer));
        }));
    }

    public void Dispose()
    {
        _factory.Dispose();
        _signer.Dispose();
    }

    [Theory]
    [InlineData("/moq", "401")]
    [InlineData("/moq?jwt=not.a.token", "401")]
    public async Task Without_a_valid_token_the_upgrade_is_refused(string path, string status)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => _factory.OpenWebSocketAsync(path));
        Assert.Contains(status, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_signed_with_an_unknown_key_is_refused()
    {
        var token = Tokens.Hs256(RandomNumberGenerator.GetBytes(32), new { root = "", get = new[] { "clock" } });
        var error = await Assert.ThrowsAnyAsync<Exception>(() => _factory.OpenWebSocketAsync("/moq?jwt=" + token));
        Assert.Contains("401", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_token_is_refused()
    {
        var token = Tokens.Es256(_signer, new { root = "", get = new[] { "clock" }, exp = Tokens.In(TimeSpan.FromMinutes(-5)) });
        var error = await Assert.ThrowsAnyAsync<Exception>(() => _factory.OpenWebSocketAsync("/moq?jwt=" + token));
        Assert.Contains("401", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_rooted_elsewhere_is_forbidden_at_this_path()
    {
        var token = Tokens.Hs256(Secret, new { root = "other", put = "", get = "" });
        var error = await Assert.ThrowsAnyAsync<Exception>(() => _factory.OpenWebSocketAsync("/moq/room1?jwt=" + token));
        Assert.Contains("403", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HS256")]
    [InlineData("ES256")]
    public async Task A_client_subscribes_only_where_its_token_allows(string algorithm)
    {
        _factory.Origin().Publish("secret", new MoqBroadcast(new SingleTrack()));
        var claims = new { root = "", get = new[] { "clock" }, exp = Tokens.In(TimeSpan.FromMinutes(5)) };
        var token = algorithm == "HS256" ? Tokens.Hs256(Secret, claims) : Tokens.Es256(_signer, claims);
        await using var client = Moq(await _factory.OpenWebSocketAsync("/moq?jwt=" + token));

        var clock = await client.Consume("clock").GetTrackAsync("seconds").AsTask().WaitAsync(TestServerClients.Timeout);
        Assert.NotNull(clock);
        var secret = await client.Consume("secret").GetTrackAsync("t").AsTask().WaitAsync(TestServerClients.Timeout);
        Assert.Null(secret);
    }

    [Fact]
    public async Task A_client_publishes_only_where_its_token_allows()
    {
        var token = Tokens.Hs256(Secret, new { root = "room1", put = new[] { "alice", "carol" }, get = "" });
        var origin = new MoqOrigin();
        origin.Publish("bob", new MoqBroadcast());
        origin.Publish("alice", new MoqBroadcast());
        await using var client = Moq(await _factory.OpenWebSocketAsync("/moq/room1?jwt=" + token), origin);
        await _factory.Origin().WaitForBroadcastAsync("room1/alice");

        // Announcements arrive in order on one stream: carol, published only now, comes after bob's.
        origin.Publish("carol", new MoqBroadcast());
        await _factory.Origin().WaitForBroadcastAsync("room1/carol");
        Assert.Null(_factory.Origin().TryGetBroadcast("room1/bob"));
    }

    private static Session.MoqSession Moq(System.Net.WebSockets.WebSocket socket, MoqOrigin? origin = null) =>
        Client.MoqClient.Start(socket, new Client.MoqClientOptions { Origin = origin ?? new MoqOrigin() });

    private sealed class SingleTrack : IMoqTrackSource
    {
        public ValueTask<MoqTrack?> CreateTrackAsync(MoqBroadcast broadcast, string name, CancellationToken cancellationToken) =>
            ValueTask.FromResult<MoqTrack?>(new MoqTrack(name, TrackInfo.Default));
    }
}
