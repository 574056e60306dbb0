using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MoqLite.Client;
using MoqLite.Lite;
using MoqLite.Model;
using MoqLite.Protocol.Tests.Sessions;
using MoqLite.Transport.Quic;
using Xunit.Abstractions;

namespace MoqLite.Protocol.Tests.Transport;

/// <summary>Raw QUIC end to end. Needs libmsquic; without it the test says so and skips.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[System.Runtime.Versioning.SupportedOSPlatform("windows")]
[System.Runtime.Versioning.SupportedOSPlatform("osx")]
public class QuicTransportTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Publish_and_subscribe_over_raw_quic()
    {
        SkipWithoutQuic();

        using var certificate = SelfSignedCertificate();
        var relay = new MoqOrigin();
        var broadcast = new MoqBroadcast();
        var track = broadcast.CreateTrack("t", TrackInfo.Default);
        relay.Publish("q", broadcast);

        await using var listener = await QuicTransport.ListenAsync(new IPEndPoint(IPAddress.Loopback, 0), certificate);
        var accept = Task.Run(async () => LiteSession.Start(await listener.AcceptAsync(), relay));
        await using var client = await MoqClient.ConnectAsync(new Uri($"moqt://127.0.0.1:{listener.LocalEndPoint.Port}/"), new MoqClientOptions
        {
            // Pin the test certificate, as a browser pins a dev certificate by hash.
            QuicCertificateValidation = (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString(),
        });
        await using var server = await accept.WaitAsync(SessionPair.Timeout);
        Assert.Equal("moq-lite-05", client.Protocol);

        var remote = await client.Consume("q").GetTrackAsync("t").AsTask().WaitAsync(SessionPair.Timeout);
        using var subscription = remote!.Subscribe();
        await SessionTests.WaitUntilAsync(() => track.SubscriptionCount == 1);
        var group = track.AppendGroup();
        group.WriteStrings("over", "quic");
        group.Complete();
        using var received = await subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.Equal(["over", "quic"], await received!.ReadStringsAsync());
        // The relay lets go of the group once QUIC reports its stream's writing side closed (all of it acknowledged).
        await group.WaitForReadersAsync().WaitAsync(SessionPair.Timeout);

        // Closing the session ends the remote track for its subscribers, and leaving it afterwards is harmless.
        await client.CloseAsync();
        var ended = await Assert.ThrowsAnyAsync<MoqException>(() => subscription.NextGroupAsync().AsTask().WaitAsync(SessionPair.Timeout));
        Assert.Equal(MoqErrorCode.Closed, ended.Code);
        subscription.Dispose();
    }

    [SkippableFact]
    public async Task The_clients_setup_path_is_its_namespace_root_over_raw_quic()
    {
        SkipWithoutQuic();

        using var certificate = SelfSignedCertificate();
        var relay = new MoqOrigin();
        var clientOrigin = new MoqOrigin();
        clientOrigin.Publish("alice", new MoqBroadcast());

        await using var listener = await QuicTransport.ListenAsync(new IPEndPoint(IPAddress.Loopback, 0), certificate);
        var accept = Task.Run(async () => LiteSession.Start(await listener.AcceptAsync(), relay));
        await using var client = await MoqClient.ConnectAsync(new Uri($"moqt://127.0.0.1:{listener.LocalEndPoint.Port}/room1?jwt=x"), new MoqClientOptions
        {
            Origin = clientOrigin,
            QuicCertificateValidation = (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString(),
        });
        await using var server = await accept.WaitAsync(SessionPair.Timeout);

        await relay.WaitForBroadcastAsync("room1/alice");
    }

    private void SkipWithoutQuic()
    {
        const string Why = "QUIC is not supported on this machine (System.Net.Quic needs libmsquic.so.2).";
        if (!QuicTransport.IsSupported)
        {
            output.WriteLine("Skipped: " + Why);
        }
        Skip.IfNot(QuicTransport.IsSupported, Why);
    }

    private static X509Certificate2 SelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1));
    }
}
