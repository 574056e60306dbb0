using System.Buffers;
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

    [SkippableFact]
    public async Task A_streams_bytes_arrive_whole_and_in_order_however_they_are_written_and_read()
    {
        SkipWithoutQuic();

        using var certificate = SelfSignedCertificate();
        await using var listener = await QuicTransport.ListenAsync(new IPEndPoint(IPAddress.Loopback, 0), certificate);
        var accept = listener.AcceptAsync().AsTask();
        await using var client = await QuicTransport.ConnectAsync(new Uri($"moqt://127.0.0.1:{listener.LocalEndPoint.Port}/"), LiteVersions.All,
            (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString(), default);
        await using var server = await accept.WaitAsync(SessionPair.Timeout);

        var random = new Random(11);
        for (var round = 0; round < 6; round++)
        {
            var payload = new byte[random.Next(1, 200_000)];
            random.NextBytes(payload);
            var sent = client.OpenUnidirectionalStreamAsync().AsTask();
            var stream = await sent.WaitAsync(SessionPair.Timeout);
            var output = stream.Output!;
            var writing = Task.Run(async () =>
            {
                // Writes of any size, some flushed, the last bytes left for the completion to send with FIN.
                for (var offset = 0; offset < payload.Length;)
                {
                    var length = Math.Min(random.Next(1, 30_000), payload.Length - offset);
                    output.Write(payload.AsSpan(offset, length));
                    offset += length;
                    if (offset < payload.Length && random.Next(2) == 0)
                    {
                        await output.FlushAsync();
                    }
                }
                await output.CompleteAsync();
            });

            var input = (await server.AcceptStreamAsync().AsTask().WaitAsync(SessionPair.Timeout)).Input!;
            var received = new List<byte>();
            var choices = new Random(round);
            while (true)
            {
                var result = await input.ReadAsync().AsTask().WaitAsync(SessionPair.Timeout);
                var buffer = result.Buffer;
                var take = result.IsCompleted ? buffer.Length : choices.Next(3) switch { 0 => buffer.Length, 1 => choices.NextInt64(0, buffer.Length + 1), _ => 0 };
                received.AddRange(buffer.Slice(0, take).ToArray());
                input.AdvanceTo(buffer.GetPosition(take), buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
            await writing.WaitAsync(SessionPair.Timeout);
            Assert.Equal(payload, received);
        }
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
