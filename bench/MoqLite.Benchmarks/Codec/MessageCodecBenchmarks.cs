using System.Buffers;
using BenchmarkDotNet.Attributes;
using MoqLite.Lite;
using MoqLite.Lite.Messages;

namespace MoqLite.Benchmarks.Codec;

/// <summary>Encode and decode of every moq-lite-05 control message, with bytes allocated per operation.</summary>
[MemoryDiagnoser]
public class MessageCodecBenchmarks
{
    private static readonly Dictionary<string, IMessageCase> Cases = new(StringComparer.Ordinal)
    {
        ["SETUP"] = new Case<Setup>(new Setup(0, "/room", SetupRole.Both, 42)),
        ["ANNOUNCE_PLEASE"] = new Case<AnnounceRequest>(new AnnounceRequest("room/", 0)),
        ["ANNOUNCE_OK"] = new Case<AnnounceOk>(new AnnounceOk(42, 3)),
        ["ANNOUNCE"] = new Case<AnnounceBroadcast>(new AnnounceBroadcast(true, "room/alice", [1, 2, 3])),
        ["SUBSCRIBE"] = new Case<Subscribe>(new Subscribe(1, "room/alice", "video", 3, false, 2000, 5, null)),
        ["SUBSCRIBE_UPDATE"] = new Case<SubscribeUpdate>(new SubscribeUpdate(4, true, 1500, 7, null)),
        ["SUBSCRIBE_RESPONSE"] = new ResponseCase(SubscribeResponse.Started(12)),
        ["TRACK"] = new Case<TrackRequest>(new TrackRequest("room/alice", "video")),
        ["TRACK_INFO"] = new Case<TrackInfoMessage>(new TrackInfoMessage(3, false, 2000, 1_000_000)),
        ["FETCH"] = new Case<FetchRequest>(new FetchRequest("room/alice", "video", 3, 11)),
        ["GOAWAY"] = new Case<Goaway>(new Goaway("https://relay.example/moq")),
        ["PROBE"] = new Case<Probe>(new Probe(2_500_000, 40)),
        ["GROUP"] = new Case<GroupHeader>(new GroupHeader(7, 123456)),
    };

    private readonly ArrayBufferWriter<byte> _output = new(4096);
    private IMessageCase _case = null!;
    private ReadOnlySequence<byte> _encoded;

    /// <summary>The message, by its name in the draft.</summary>
    [ParamsSource(nameof(Names))]
    public string Message { get; set; } = "SETUP";

    public static IEnumerable<string> Names => Cases.Keys;

    [GlobalSetup]
    public void Setup()
    {
        _case = Cases[Message];
        var buffer = new ArrayBufferWriter<byte>();
        _case.Encode(buffer);
        _encoded = new ReadOnlySequence<byte>(buffer.WrittenMemory);
    }

    [Benchmark]
    public int Encode()
    {
        _output.ResetWrittenCount();
        _case.Encode(_output);
        return _output.WrittenCount;
    }

    [Benchmark]
    public bool Decode() => _case.Decode(_encoded);

    private interface IMessageCase
    {
        void Encode(IBufferWriter<byte> output);

        bool Decode(ReadOnlySequence<byte> encoded);
    }

    private sealed class Case<T>(T message) : IMessageCase
        where T : struct, ILiteMessage<T>
    {
        public void Encode(IBufferWriter<byte> output) => LiteCodec.Write(output, message, LiteVersion.Lite05);

        public bool Decode(ReadOnlySequence<byte> encoded) => LiteCodec.TryRead<T>(ref encoded, LiteVersion.Lite05, 65536, out _);
    }

    private sealed class ResponseCase(SubscribeResponse response) : IMessageCase
    {
        public void Encode(IBufferWriter<byte> output) => response.Write(output, LiteVersion.Lite05);

        public bool Decode(ReadOnlySequence<byte> encoded) => SubscribeResponse.TryRead(ref encoded, LiteVersion.Lite05, 65536, out _);
    }
}
