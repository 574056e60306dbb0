using System.Buffers;
using BenchmarkDotNet.Attributes;
using MoqLite.Lite;
using MoqLite.Lite.Messages;

namespace MoqLite.Benchmarks.Codec;

/// <summary>Encode and decode of frames and of the control messages, with bytes allocated per operation.</summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(256 * 1024);
    private byte[] _payload = [];
    private ReadOnlySequence<byte> _frame;
    private ReadOnlySequence<byte> _subscribe;
    private ReadOnlySequence<byte> _announce;
    private ReadOnlySequence<byte> _group;

    /// <summary>Frame payload size in bytes.</summary>
    [Params(1024, 10 * 1024)]
    public int FrameSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[FrameSize];
        _frame = Encode(w => FrameCodec.Write(w, LiteVersion.Lite05, 33, _payload));
        _subscribe = Encode(w => LiteCodec.Write(w, NewSubscribe(), LiteVersion.Lite05));
        _announce = Encode(w => LiteCodec.Write(w, new AnnounceBroadcast(true, "room/alice", [1, 2, 3]), LiteVersion.Lite05));
        _group = Encode(w => LiteCodec.Write(w, new GroupHeader(7, 123456), LiteVersion.Lite05));
    }

    [Benchmark]
    public int EncodeFrame()
    {
        _output.ResetWrittenCount();
        FrameCodec.Write(_output, LiteVersion.Lite05, 33, _payload);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int DecodeFrame()
    {
        var buffer = _frame;
        FrameCodec.TryReadHeader(ref buffer, LiteVersion.Lite05, int.MaxValue, out _, out var length);
        return length;
    }

    [Benchmark]
    public int EncodeSubscribe()
    {
        _output.ResetWrittenCount();
        LiteCodec.Write(_output, NewSubscribe(), LiteVersion.Lite05);
        return _output.WrittenCount;
    }

    [Benchmark]
    public ulong DecodeSubscribe()
    {
        var buffer = _subscribe;
        LiteCodec.TryRead<Subscribe>(ref buffer, LiteVersion.Lite05, 65536, out var message);
        return message.Id;
    }

    [Benchmark]
    public int EncodeAnnounce()
    {
        _output.ResetWrittenCount();
        LiteCodec.Write(_output, new AnnounceBroadcast(true, "room/alice", [1, 2, 3]), LiteVersion.Lite05);
        return _output.WrittenCount;
    }

    [Benchmark]
    public bool DecodeAnnounce()
    {
        var buffer = _announce;
        LiteCodec.TryRead<AnnounceBroadcast>(ref buffer, LiteVersion.Lite05, 65536, out var message);
        return message.Active;
    }

    [Benchmark]
    public int EncodeGroupHeader()
    {
        _output.ResetWrittenCount();
        LiteCodec.Write(_output, new GroupHeader(7, 123456), LiteVersion.Lite05);
        return _output.WrittenCount;
    }

    [Benchmark]
    public ulong DecodeGroupHeader()
    {
        var buffer = _group;
        LiteCodec.TryRead<GroupHeader>(ref buffer, LiteVersion.Lite05, 65536, out var message);
        return message.Sequence;
    }

    private static Subscribe NewSubscribe() => new(1, "room/alice", "video", 3, false, 2000, 5, null);

    private static ReadOnlySequence<byte> Encode(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return new ReadOnlySequence<byte>(buffer.WrittenMemory);
    }
}
