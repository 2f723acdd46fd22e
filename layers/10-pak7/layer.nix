{ pkgs }: pkgs.megapak.fromList ./pak7.txt
