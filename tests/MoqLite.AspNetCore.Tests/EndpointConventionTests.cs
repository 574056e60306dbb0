using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoqLite.AspNetCore.Authorization;
using MoqLite.AspNetCore.WebTransport;
using MoqLite.Client;
using MoqLite.Model;
using MoqLite.Transport.QMux;

namespace MoqLite.AspNetCore.Tests;

/// <summary>MapMoqLite as an ordinary endpoint: authorization policies, rights from claims, the pin endpoint, the session limit.</summary>
public class EndpointConventionTests
{
    [Fact]
    public async Task RequireAuthorization_applies_and_claims_grant_rights()
    {
        await using var app = await StartAsync(
            endpoints => endpoints.MapMoqLite("/moq").RequireAuthorization(),
            services => services.AddAuthentication("Test").AddScheme<AuthenticationSchemeOptions, HeaderAuthentication>("Test", null),
            services => services.AddAuthorization());
        var server = app.GetTestServer();
        var origin = app.Services.GetRequiredService<MoqOrigin>();
        origin.Publish("news", new MoqBroadcast(new AnyTrack()));
        origin.Publish("secret", new MoqBroadcast(new AnyTrack()));

        var anonymous = await Assert.ThrowsAnyAsync<Exception>(() => OpenAsync(server, "/moq", user: null));
        Assert.Contains("401", anonymous.Message, StringComparison.Ordinal);

        // The user's moq:get claim allows news only.
        await using var client = MoqClient.Start(await OpenAsync(server, "/moq", user: "reader"), new MoqClientOptions());
        Assert.NotNull(await client.Consume("news").GetTrackAsync("t").AsTask().WaitAsync(TestServerClients.Timeout));
        Assert.Null(await client.Consume("secret").GetTrackAsync("t").AsTask().WaitAsync(TestServerClients.Timeout));
    }

    [Fact]
    public async Task Conventions_reach_the_endpoint_metadata()
    {
        await using var app = await StartAsync(
            endpoints => endpoints.MapMoqLite("/moq").RequireCors("moq").RequireAuthorization("members").WithMetadata(new MarkerMetadata()),
            services => services.AddCors(cors => cors.AddPolicy("moq", policy => policy.AllowAnyOrigin())),
            services => services.AddAuthorization(auth => auth.AddPolicy("members", policy => policy.RequireAuthenticatedUser())));

        var endpoint = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.Single(e => e.DisplayName == "MoqLite /moq");
        Assert.Equal("moq", endpoint.Metadata.GetRequiredMetadata<IEnableCorsAttribute>().PolicyName);
        Assert.Contains(endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>(), a => a.Policy == "members");
        Assert.NotNull(endpoint.Metadata.GetMetadata<MarkerMetadata>());
    }

    private sealed class MarkerMetadata;

    [Fact]
    public async Task The_certificate_pin_is_served_at_the_site_root_as_bare_hex_to_any_origin()
    {
        var certificate = new WebTransportCertificate(null);
        await using var app = await StartAsync(endpoints => endpoints.MapMoqLite("/moq"), services => services.AddSingleton(certificate));
        using var http = app.GetTestServer().CreateClient();

        var response = await http.GetAsync(new Uri("/certificate.sha256", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        Assert.Equal(certificate.Sha256Hex, await response.Content.ReadAsStringAsync());
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task Sessions_beyond_the_limit_get_503()
    {
        await using var app = await StartAsync(endpoints => endpoints.MapMoqLite("/moq"), services => services.Configure<MoqLiteOptions>(o => o.MaxSessions = 1));
        var server = app.GetTestServer();
        await using var first = MoqClient.Start(await OpenAsync(server, "/moq", user: null), new MoqClientOptions());
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => OpenAsync(server, "/moq", user: null));
        Assert.Contains("503", refused.Message, StringComparison.Ordinal);
    }

    private static async Task<WebApplication> StartAsync(Action<WebApplication> map, params Action<IServiceCollection>[] services)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddMoqLite();
        foreach (var service in services)
        {
            service(builder.Services);
        }
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return app;
    }

    private static async Task<System.Net.WebSockets.WebSocket> OpenAsync(TestServer server, string path, string? user)
    {
        var client = server.CreateWebSocketClient();
        foreach (var subprotocol in QMuxSubprotocols.Offer())
        {
            client.SubProtocols.Add(subprotocol);
        }
        if (user is not null)
        {
            client.ConfigureRequest = request => request.Headers["X-Test-User"] = user;
        }
        return await client.ConnectAsync(new Uri(server.BaseAddress, path), CancellationToken.None).WaitAsync(TestServerClients.Timeout);
    }

    /// <summary>Authenticates X-Test-User and gives it the right to subscribe under "news".</summary>
    private sealed class HeaderAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (Request.Headers["X-Test-User"] is not [{ } user])
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }
            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user), new Claim(MoqClaimTypes.Subscribe, "news")], Scheme.Name);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
        }
    }

    private sealed class AnyTrack : IMoqTrackSource
    {
        public ValueTask<MoqTrack?> CreateTrackAsync(MoqBroadcast broadcast, string name, CancellationToken cancellationToken) =>
            ValueTask.FromResult<MoqTrack?>(new MoqTrack(name, TrackInfo.Default));
    }
}
