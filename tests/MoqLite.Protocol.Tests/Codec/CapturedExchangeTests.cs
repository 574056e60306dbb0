using System.Buffers;
using System.Text;
using MoqLite.Coding;
using MoqLite.Lite;
using MoqLite.Lite.Messages;

namespace MoqLite.Protocol.Tests.Codec;

/// <summary>Byte-exact vectors from the captured @moq/net lite-05 exchange (reference notes §1.5).</summary>
public class CapturedExchangeTests
{
    private const LiteVersion V5 = LiteVersion.Lite05;

    private static string Encode<T>(T message, LiteVersion version = V5) where T : ILiteMessage<T>
    {
        var buffer = new ArrayBufferWriter<byte>();
        LiteCodec.Write(buffer, message, version);
        return Hex.Of(buffer.WrittenSpan);
    }

    private static T Decode<T>(string hex, LiteVersion version = V5) where T : ILiteMessage<T>
    {
        var buffer = new ReadOnlySequence<byte>(Hex.Parse(hex));
        Assert.True(LiteCodec.TryRead<T>(ref buffer, version, 1 << 16, out var message));
        Assert.True(buffer.IsEmpty);
        return message;
    }

    [Fact]
    public void Setup_with_origin_matches_the_javascript_client()
    {
        const string wire = "0b 01 05 08 c0 18 a4 9e 34 a2 c4 95";
        var setup = Decode<Setup>(wire);
        Assert.Equal(0x18a49e34a2c495UL, setup.Origin);
        Assert.Null(setup.Path);
        Assert.Equal(wire.Replace(" ", ""), Encode(setup));
    }

    [Fact]
    public void Announce_request_with_exclude_hop()
    {
        const string wire = "09 00 c0 0a f1 fe 83 8d 40 f3";
        var request = Decode<AnnounceRequest>(wire);
        Assert.Equal("", request.Prefix);
        Assert.Equal(0x0af1fe838d40f3UL, request.ExcludeHop);
        Assert.Equal(wire.Replace(" ", ""), Encode(request));
    }

    [Fact]
    public void Announce_ok_and_broadcast()
    {
        Assert.Equal("09c018a49e34a2c49501", Encode(new AnnounceOk(0x18a49e34a2c495, 1)));
        var broadcast = Decode<AnnounceBroadcast>("08 01 05 616c696365 00");
        Assert.Equal(new AnnounceBroadcast(true, "alice", []), broadcast);
        Assert.Equal("080105616c69636500", Encode(broadcast));
    }

    [Fact]
    public void Track_and_track_info()
    {
        Assert.Equal("0b05616c6963650463686174", Encode(new TrackRequest("alice", "chat")));
        var info = Decode<TrackInfoMessage>("06 02 00 4b b8 43 e8");
        Assert.Equal(new TrackInfoMessage(2, false, 3000, 1000), info);
        Assert.Equal("0602004bb843e8", Encode(info));
    }

    [Fact]
    public void Subscribe_and_start()
    {
        const string wire = "11 00 05 616c696365 04 63686174 01 00 00 00 00";
        var subscribe = Decode<Subscribe>(wire);
        Assert.Equal(new Subscribe(0, "alice", "chat", 1, false, 0, null, null), subscribe);
        Assert.Equal(wire.Replace(" ", ""), Encode(subscribe));

        var buffer = new ArrayBufferWriter<byte>();
        SubscribeResponse.Started(0).Write(buffer, V5);
        Assert.Equal("000100", Hex.Of(buffer.WrittenSpan));
    }

    [Fact]
    public void Group_header_and_timestamped_frames()
    {
        Assert.Equal("020000", Encode(new GroupHeader(0, 0)));
        var frames = new ReadOnlySequence<byte>(Hex.Parse("44d207" + Hex.Of("hello-0"u8) + "0007" + Hex.Of("world-0"u8)));
        Assert.True(FrameCodec.TryReadHeader(ref frames, V5, 1024, out var delta, out var length));
        Assert.Equal(617, delta);
        Assert.Equal("hello-0", Encoding.UTF8.GetString(frames.Slice(0, length).ToArray()));
        frames = frames.Slice(length);
        Assert.True(FrameCodec.TryReadHeader(ref frames, V5, 1024, out delta, out length));
        Assert.Equal(0, delta);
        Assert.Equal(7, length);

        var output = new ArrayBufferWriter<byte>();
        FrameCodec.Write(output, V5, 617, "hello-0"u8);
        Assert.Equal("44d207" + Hex.Of("hello-0"u8), Hex.Of(output.WrittenSpan));
    }
}
