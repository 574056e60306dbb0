using System.Buffers;
using CsCheck;
using MoqLite.Coding;
using MoqLite.Lite;
using MoqLite.Lite.Messages;

namespace MoqLite.Protocol.Tests.Codec;

/// <summary>Encode→decode is the identity, and arbitrary bytes never raise anything but a protocol violation.</summary>
public class PropertyTests
{
    private static readonly Gen<LiteVersion> Versions = Gen.Int[0, 2].Select(i => LiteVersions.All[i]);
    private static readonly Gen<string> Names = Gen.String[Gen.Char['a', 'z'], 1, 12];
    private static readonly Gen<string> Paths = Names.Array[0, 4].Select(parts => string.Join('/', parts));
    private static readonly Gen<ulong> Counters = Gen.ULong[0, (1UL << 53) - 1];
    private static readonly Gen<ulong?> OptionalGroups = Gen.Select(Gen.Bool, Gen.ULong[0, 1UL << 52]).Select((some, v) => some ? v : (ulong?)null);

    private static T RoundTrip<T>(T message, LiteVersion version) where T : ILiteMessage<T>
    {
        var buffer = new ArrayBufferWriter<byte>();
        LiteCodec.Write(buffer, message, version);
        var sequence = new ReadOnlySequence<byte>(buffer.WrittenMemory);
        Assert.True(LiteCodec.TryRead<T>(ref sequence, version, 1 << 20, out var decoded));
        Assert.True(sequence.IsEmpty);
        return decoded;
    }

    [Fact]
    public void Varints_round_trip() =>
        Gen.ULong[0, VarInt.MaxValue].Sample(value =>
        {
            Span<byte> span = stackalloc byte[8];
            var n = VarInt.Write(span, value);
            return VarInt.TryRead(span[..n], out var decoded, out var consumed) && decoded == value && consumed == n;
        });

    [Fact]
    public void Subscribe_round_trips() =>
        Gen.Select(Counters, Paths, Names, Gen.Byte, Gen.Bool, Counters, OptionalGroups, OptionalGroups)
            .Select((id, b, t, p, o, l, s, e) => new Subscribe(id, b, t, p, o, l, s, e))
            .Sample(m => RoundTrip(m, LiteVersion.Lite05) == m);

    [Fact]
    public void Announcements_round_trip() =>
        Gen.Select(Versions, Gen.Bool, Paths, Gen.ULong[1, VarInt.MaxValue].Array[0, 32]).Sample((v, active, path, hops) =>
        {
            var message = new AnnounceBroadcast(active, path, hops);
            var decoded = RoundTrip(message, v);
            var expectedHops = !active ? [] : v >= LiteVersion.Lite04 ? hops : new ulong[hops.Length];
            return decoded == message with { Hops = expectedHops };
        });

    [Fact]
    public void Track_info_setup_and_fetch_round_trip()
    {
        Gen.Select(Gen.Byte, Gen.Bool, Counters, Gen.ULong[1, (1UL << 53) - 1])
            .Select((p, o, l, t) => new TrackInfoMessage(p, o, l, t))
            .Sample(m => RoundTrip(m, LiteVersion.Lite05) == m);
        Gen.Select(Gen.ULong[0, 2], Gen.Select(Gen.Bool, Paths).Select((some, p) => some ? p : null), Gen.Int[0, 2].Select(i => (SetupRole)i), Gen.ULong[0, VarInt.MaxValue])
            .Select((probe, path, role, origin) => new Setup(probe, path, role, origin))
            .Sample(m => RoundTrip(m, LiteVersion.Lite05) == m);
        Gen.Select(Paths, Names, Gen.Byte, Counters)
            .Select((b, t, p, g) => new FetchRequest(b, t, p, g))
            .Sample(m => RoundTrip(m, LiteVersion.Lite05) == m);
    }

    [Fact]
    public void Arbitrary_bytes_raise_only_protocol_violations() =>
        Gen.Select(Versions, Gen.Byte.Array[0, 64]).Sample((version, bytes) =>
        {
            Parse<Setup>(bytes, version);
            Parse<AnnounceRequest>(bytes, version);
            Parse<AnnounceOk>(bytes, version);
            Parse<AnnounceBroadcast>(bytes, version);
            Parse<TrackRequest>(bytes, version);
            Parse<TrackInfoMessage>(bytes, version);
            Parse<Subscribe>(bytes, version);
            Parse<SubscribeUpdate>(bytes, version);
            Parse<FetchRequest>(bytes, version);
            Parse<Goaway>(bytes, version);
            Parse<Probe>(bytes, version);
            Parse<GroupHeader>(bytes, version);
            Guard(() =>
            {
                var sequence = new ReadOnlySequence<byte>(bytes);
                SubscribeResponse.TryRead(ref sequence, version, 1024, out _);
            });
            Guard(() =>
            {
                var sequence = new ReadOnlySequence<byte>(bytes);
                FrameCodec.TryReadHeader(ref sequence, version, 1024, out _, out _);
            });
            Guard(() => MoqLite.Transport.QMux.QMuxTransportParameters.Read(bytes));
        });

    private static void Parse<T>(byte[] bytes, LiteVersion version) where T : ILiteMessage<T> => Guard(() =>
    {
        var sequence = new ReadOnlySequence<byte>(bytes);
        LiteCodec.TryRead<T>(ref sequence, version, 1024, out _);
    });

    private static void Guard(Action parse)
    {
        try
        {
            parse();
        }
        catch (ProtocolViolationException)
        {
            // The one allowed outcome besides success or "need more bytes".
        }
    }
}
