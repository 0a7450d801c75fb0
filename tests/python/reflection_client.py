"""grpcio-reflection's ProtoReflectionDescriptorDatabase against a server
(the Rust reflection tests): prints what it finds, one fact per line, and
calls a method through descriptors it only learnt by reflection.

    reflection_client.py TARGET
"""

import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

PKG = "rustgrpc.reflection_test"


def main():
    channel = grpc.insecure_channel(sys.argv[1])
    database = ProtoReflectionDescriptorDatabase(channel)
    print("SERVICES", " ".join(sorted(database.get_services())), flush=True)
    pool = descriptor_pool.DescriptorPool(database)

    service = pool.FindServiceByName(f"{PKG}.Demo")
    method = service.FindMethodByName("Greet")
    print("METHOD", method.full_name, method.input_type.full_name,
          method.output_type.full_name, flush=True)
    print("FILE", service.file.name, " ".join(d.name for d in service.file.dependencies),
          flush=True)
    base = pool.FindMessageTypeByName(f"{PKG}.Base")
    print("FIELDS", " ".join(f.name for f in base.fields), flush=True)
    print("NESTED", pool.FindEnumTypeByName(f"{PKG}.Holder.Kind").full_name, flush=True)
    numbers = sorted(database.FindAllExtensionNumbers(f"{PKG}.Base"))
    print("EXTENSION_NUMBERS", " ".join(map(str, numbers)), flush=True)
    extension = pool.FindExtensionByNumber(base, 150)
    print("EXTENSION", extension.full_name, flush=True)
    for missing in (f"{PKG}.Missing",):
        try:
            pool.FindMessageTypeByName(missing)
            print("FOUND", missing, flush=True)
        except KeyError:
            print("MISSING", missing, flush=True)

    # A call whose message classes come from reflection alone.
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    greet = channel.unary_unary(
        f"/{service.full_name}/{method.name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    reply = greet(json_format.Parse('{"name": "python"}', request_class()), timeout=60)
    print("REPLY", reply.name, flush=True)


if __name__ == "__main__":
    main()
